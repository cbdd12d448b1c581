"""REPL-only navigation and session commands: cd, pwd, clear, exit; names for completion."""

from __future__ import annotations

import argparse

from pfs.client import FileInfo, FSError
from pfs.shell.context import Context, ExitShell


def cd_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default="/")


def cd(ctx: Context, ns: argparse.Namespace) -> None:
    path = ctx.resolve(ns.path)
    info = ctx.client.stat(path)
    if not info.is_dir:
        raise FSError(f"not a directory: {path}")
    ctx.cwd = path


def pwd(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.echo(ctx.cwd)


def clear(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.write(b"\x1b[2J\x1b[H")


def exit_(ctx: Context, ns: argparse.Namespace) -> None:
    raise ExitShell()


def remote_names(ctx: Context, directory: str) -> list[FileInfo]:
    """Entries of a remote directory for tab completion (errors mean no completions)."""
    try:
        return ctx.client.ls(directory)
    except FSError:
        return []
