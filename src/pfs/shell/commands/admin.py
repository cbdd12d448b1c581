"""The server's administration: mounts, mount, unmount, plugins, health."""

from __future__ import annotations

import argparse
import os
import posixpath
from typing import Any

from pfs.shell import formatting as fmt
from pfs.shell.commands.common import dump_json
from pfs.shell.context import Context, UsageError


def mounts(ctx: Context, ns: argparse.Namespace) -> None:
    found = sorted(ctx.client.mounts(), key=lambda m: m.get("path", ""))
    if ctx.json:
        dump_json(ctx, found)
    elif not found:
        ctx.echo("No plugins mounted")
    else:
        for mount_info in found:
            ctx.echo(fmt.mount_line(mount_info))


def mount_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("fstype")
    p.add_argument("path")
    p.add_argument("options", nargs="*", metavar="key=value")


def mount(ctx: Context, ns: argparse.Namespace) -> None:
    config: dict[str, Any] = {}
    for option in ns.options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise UsageError(f"mount: expected key=value, got '{option}'")
        config[key] = fmt.parse_config_value(value)
    message = ctx.client.mount(ns.fstype, ctx.resolve(ns.path), config)
    if ctx.json:
        dump_json(ctx, {"message": message})
    else:
        ctx.echo(f"  {message}")


def unmount_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path")


def unmount(ctx: Context, ns: argparse.Namespace) -> None:
    path = ctx.resolve(ns.path)
    message = ctx.client.unmount(path)
    if ctx.json:
        dump_json(ctx, {"message": message})
    else:
        ctx.echo(f"Unmounted plugin at {path}")


def plugins_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=["list", "load", "unload"])
    p.add_argument("library", nargs="?", help="library path, http(s):// URL or pfs:// path")


def plugins(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.action == "list":
        loaded = ctx.client.plugins()
        if ctx.json:
            dump_json(ctx, loaded)
        elif not loaded:
            ctx.echo("No external plugins loaded")
        else:
            ctx.echo(f"Loaded external plugins ({len(loaded)}):")
            for path in loaded:
                ctx.echo(f"  {posixpath.basename(path)}  ({path})")
        return
    if not ns.library:
        raise UsageError(f"plugins {ns.action}: a library path is required")
    library = ns.library
    if "://" not in library and not library.startswith("/"):
        library = os.path.abspath(library)  # the server resolves paths in its own cwd
    if ns.action == "load":
        answer = ctx.client.load_plugin(library)
        if ctx.json:
            dump_json(ctx, answer)
            return
        ctx.echo(f"Loaded external plugin: {answer.get('plugin_name', '')}")
        ctx.echo(f"  Library: {library}")
        if answer.get("renamed"):
            ctx.echo(f"  Renamed from: {answer.get('original_name', '')}")
    else:
        message = ctx.client.unload_plugin(library)
        if ctx.json:
            dump_json(ctx, {"message": message})
        else:
            ctx.echo(f"Unloaded external plugin: {library}")


def health(ctx: Context, ns: argparse.Namespace) -> None:
    answer = ctx.client.health()
    if ctx.json:
        dump_json(ctx, answer)
    else:
        ctx.echo(
            f"{answer.get('status', '?')}: version={answer.get('version')}, "
            f"commit={answer.get('gitCommit')}, build={answer.get('buildTime')}"
        )
