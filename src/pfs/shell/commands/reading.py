"""Listing and reading: ls, tree, cat, tail, stat, events."""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pfs.client import FSError
from pfs.shell import formatting as fmt
from pfs.shell.commands.common import dump_json, expand, piped_bytes
from pfs.shell.context import Context, UsageError


def ls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["."])
    p.add_argument("-l", "--long", action="store_true", help="long format (the default)")
    p.add_argument("-1", dest="names_only", action="store_true", help="names only")
    p.add_argument("-h", "--human-readable", dest="human", action="store_true",
                   help="sizes in K, M, G (help is --help)")


def ls(ctx: Context, ns: argparse.Namespace) -> None:
    targets = expand(ctx, ns.paths)
    for index, path in enumerate(targets):
        try:
            entries = ctx.client.ls(path)
        except FSError as exc:
            # ls of a file shows the file, like ls(1)
            try:
                info = ctx.client.stat(path)
            except FSError:
                raise exc from None
            if info.is_dir:
                raise
            info.name = posixpath.basename(path)
            entries = [info]
        if ctx.json:
            dump_json(ctx, [fmt.info_json(e) for e in entries])
            continue
        if len(targets) > 1:
            ctx.echo(("\n" if index else "") + f"{path}:")
        for entry in fmt.sort_entries(entries):
            if ns.names_only:
                ctx.echo(fmt.display_name(entry, ctx.color))
            else:
                ctx.echo(fmt.ls_line(entry, ctx.color, ns.human))


def tree_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("-L", "--level", type=int, default=None, help="descend at most N levels")


def tree(ctx: Context, ns: argparse.Namespace) -> None:
    root = ctx.resolve(ns.path)
    counts = {"dirs": 0, "files": 0}

    def walk(path: str, prefix: str, depth: int) -> Iterator[str]:
        entries = sorted(ctx.client.ls(path), key=lambda e: e.name)
        for i, entry in enumerate(entries):
            last = i == len(entries) - 1
            branch = "└── " if last else "├── "
            if entry.is_dir:
                counts["dirs"] += 1
                yield f"{prefix}{branch}{fmt.display_name(entry, ctx.color)}"
                if ns.level is None or depth < ns.level:
                    yield from walk(
                        posixpath.join(path, entry.name),
                        prefix + ("    " if last else "│   "),
                        depth + 1,
                    )
            else:
                counts["files"] += 1
                yield f"{prefix}{branch}{entry.name} ({fmt.human_size(entry.size)})"

    ctx.echo(root)
    for line in walk(root, "", 1):
        ctx.echo(line)
    ctx.echo(f"\n{counts['dirs']} directories, {counts['files']} files")


def cat_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*")
    p.add_argument("--stream", action="store_true", help="follow a live stream (?stream=true)")


def piped_input(ctx: Context) -> bytes:
    """What is piped in: REPL pipes and ``< file``, or the process's stdin one-shot."""
    if ctx.stdin is None and not ctx.interactive:
        return sys.stdin.buffer.read()
    return piped_bytes(ctx)


def cat(ctx: Context, ns: argparse.Namespace) -> None:
    if not ns.paths:
        if ctx.stdin is None:
            raise UsageError("cat: a path is required")
        ctx.write(piped_bytes(ctx))
        return
    last = b""
    for path in expand(ctx, ns.paths, reading=True):
        with no_stall_limit(ctx, ns.stream):
            for chunk in ctx.client.iter_cat(path, stream=ns.stream, chunk_size=None):
                ctx.write(chunk)
                if ns.stream:
                    ctx.flush()
                last = chunk or last
    # On a terminal keep the prompt on its own line; files and pipes get the bytes unchanged.
    if ctx.terminal and last and not last.endswith(b"\n"):
        ctx.write(b"\n")


@contextmanager
def no_stall_limit(ctx: Context, live: bool) -> Iterator[None]:
    """Following a live stream may wait as long as its writer is quiet (Ctrl-C ends it)."""
    saved = ctx.client.stall_timeout
    if live:
        ctx.client.stall_timeout = None
    try:
        yield
    finally:
        ctx.client.stall_timeout = saved


def tail_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", help="a PFS file (else the piped input)")
    p.add_argument("-n", "--lines", type=int, default=10)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what is appended")


def tail(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.path is None:
        if ns.follow:
            raise UsageError("tail: -f needs a path")
        lines = piped_input(ctx).splitlines(keepends=True)
        ctx.write(b"".join(lines[-ns.lines :] if ns.lines > 0 else []))
        return
    path = ctx.resolve(ns.path)
    info = ctx.client.stat(path)
    if info.is_dir:
        raise FSError(f"is a directory: {path}")
    window = 8192
    while True:
        start = max(0, info.size - window)
        data = ctx.client.cat(path, start, info.size - start)
        if start == 0 or data.count(b"\n") > ns.lines:
            break
        window *= 4
    lines = data.splitlines(keepends=True)[-ns.lines :] if ns.lines > 0 else []
    ctx.write(b"".join(lines))
    ctx.flush()
    if not ns.follow:
        return
    offset = info.size
    delay = 0.2
    while True:
        time.sleep(delay)
        size = ctx.client.stat(path).size
        if size > offset:
            ctx.write(ctx.client.cat(path, offset, size - offset))
            ctx.flush()
            offset, delay = size, 0.2
        else:
            offset = min(offset, size)
            delay = min(delay * 1.5, 2.0)


def events_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="everything below, not only entries"
    )
    p.add_argument("-n", "--count", type=int, default=0, help="stop after this many events")


def events(ctx: Context, ns: argparse.Namespace) -> None:
    """Print the changes under a path as they happen (``/api/v1/watch``) until Ctrl-C."""
    path = ctx.resolve(ns.path)
    seen = 0
    with no_stall_limit(ctx, live=True):
        stream = ctx.client.watch(path, ns.recursive)
        try:
            for event in stream:
                if event["type"] == "ready":
                    # On stderr, so the events alone go where the output goes.
                    print(f"watching {path} (Ctrl-C to stop)", file=sys.stderr, flush=True)
                    continue
                if ctx.json:
                    ctx.echo(json.dumps(event, ensure_ascii=False))
                else:
                    ctx.echo(_event_line(event))
                ctx.flush()
                seen += 1
                if ns.count and seen >= ns.count:
                    break
        finally:
            stream.close()


def _event_line(event: dict) -> str:
    line = f"{event['type']:<9} {event['path']}"
    if "newPath" in event:
        line += f" -> {event['newPath']}"
    stat = event.get("stat")
    if stat is not None and not stat.get("isDir"):
        line += f" ({stat.get('size', 0)} bytes)"
    if event["type"] == "overflow":
        line += ": events were lost; list again"
    return line


def readlink_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")


def readlink(ctx: Context, ns: argparse.Namespace) -> None:
    for path in (ctx.resolve(p) for p in ns.paths):
        ctx.echo(ctx.client.readlink(path))


def stat_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")


def stat(ctx: Context, ns: argparse.Namespace) -> None:
    for path in expand(ctx, ns.paths):
        info = ctx.client.stat(path)
        if ctx.json:
            dump_json(ctx, fmt.info_json(info))
        else:
            for line in fmt.stat_lines(path, info):
                ctx.echo(line)
