"""Writing and changing files: write, echo, tee, touch, truncate, mkdir, rm, mv, chmod, ln."""

from __future__ import annotations

import argparse

from pfs.client import InvalidArgument, NotEmpty, NotFound
from pfs.fs.config import parse_size
from pfs.fs.errors import NotSupported
from pfs.shell.commands.common import (
    expand,
    into_dir,
    is_remote_dir,
    piped_bytes,
    print_message,
    stdin_chunks,
)
from pfs.shell.context import Context, UsageError


def write_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path")
    p.add_argument("data", nargs="*", help="text to write (joined by spaces); stdin when absent")
    p.add_argument("--stream", action="store_true", help="stream stdin in one chunked PUT")
    p.add_argument("-a", "--append", action="store_true", help="append instead of replacing")


def write(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.stream and ctx.interactive:
        raise UsageError("write --stream is not available in the shell; use `pfs write --stream`")
    path = ctx.resolve(ns.path)
    data = " ".join(ns.data).encode() if ns.data else stdin_chunks(ctx, ns.stream)
    flags = ["append", "create"] if ns.append else None
    print_message(ctx, ctx.client.write(path, data, flags=flags))


def echo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="*")
    p.add_argument("-n", dest="no_newline", action="store_true", help="no trailing newline")


def echo(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.write(" ".join(ns.words).encode() + (b"" if ns.no_newline else b"\n"))


def tee_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")
    p.add_argument("-a", "--append", action="store_true")


def tee(ctx: Context, ns: argparse.Namespace) -> None:
    data = piped_bytes(ctx)
    for path in (ctx.resolve(p) for p in ns.paths):
        append_or_write(ctx, path, data, ns.append)
    ctx.write(data)


def append_or_write(ctx: Context, path: str, data: bytes, append: bool) -> str:
    """Write ``data``; with ``append`` add it at the end (read+concat+write where unsupported)."""
    if not append:
        return ctx.client.write(path, data)
    try:
        return ctx.client.write(path, data, flags=["append", "create"])
    except (InvalidArgument, NotSupported):
        # the plugin has no append: do what the original shell did, read + concatenate + write
        existing = ctx.client.cat(path) if ctx.client.exists(path) else b""
        return ctx.client.write(path, existing + data)


def touch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")


def touch(ctx: Context, ns: argparse.Namespace) -> None:
    for path in (ctx.resolve(p) for p in ns.paths):
        try:
            ctx.client.touch(path)  # the time is set by the server; the content is never read
        except NotSupported:
            pass  # the plugin stores no times (kvfs, queuefs): the file is there, left alone


def truncate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--size", required=True, help="new size: bytes, or 10KB, 1MB, …")
    p.add_argument("paths", nargs="+")


def truncate(ctx: Context, ns: argparse.Namespace) -> None:
    try:
        size = parse_size(ns.size)
    except ValueError as exc:
        raise UsageError(f"truncate: {exc}") from None
    if size < 0:
        raise UsageError(f"truncate: the size must not be negative: {ns.size}")
    for path in expand(ctx, ns.paths):
        ctx.client.truncate(path, size)


def ln_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--symbolic", action="store_true", help="make a symbolic link")
    p.add_argument("target", help="what the link leads to, kept as written (relative or absolute)")
    p.add_argument("link", help="the link's path (into it, when it is a directory)")


def ln(ctx: Context, ns: argparse.Namespace) -> None:
    if not ns.symbolic:
        raise UsageError("ln: PFS has symbolic links only: ln -s TARGET LINK")
    link = into_dir(ctx, ns.target, ctx.resolve(ns.link), ns.link)
    # The target is kept as written: a relative one is relative to the link's directory, as in
    # ln(1), not to the shell's current directory.
    ctx.client.symlink(ns.target, link)
    if ctx.interactive:
        ctx.echo(f"  '{link}' -> '{ns.target}'")


def mkdir_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")
    p.add_argument("-p", "--parents", action="store_true", help="create parents, accept existing")
    p.add_argument("-m", "--mode", default="755", help="octal mode (default 755)")


def mkdir(ctx: Context, ns: argparse.Namespace) -> None:
    for path in (ctx.resolve(p) for p in ns.paths):
        ctx.client.mkdir(path, ns.mode, parents=ns.parents)


def rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")
    p.add_argument("-r", "-R", "--recursive", action="store_true")
    p.add_argument("-f", "--force", action="store_true", help="ignore missing files")


def rm(ctx: Context, ns: argparse.Namespace) -> None:
    try:
        paths = expand(ctx, ns.paths)
    except NotFound:
        if ns.force:
            return
        raise
    for path in paths:
        try:
            ctx.client.rm(path, recursive=ns.recursive)
        except NotFound:
            if not ns.force:
                raise
            continue
        except NotEmpty:
            if ns.recursive:
                raise
            raise NotEmpty(f"directory not empty: {path} (use -r)") from None
        if ctx.interactive:
            ctx.echo(f"  removed '{path}'")


def mv_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="src… dst")


def mv(ctx: Context, ns: argparse.Namespace) -> None:
    if len(ns.paths) < 2:
        raise UsageError("mv: needs a source and a destination")
    dst_raw = ns.paths[-1]
    dst = ctx.resolve(dst_raw)
    sources = expand(ctx, ns.paths[:-1])
    if len(sources) > 1 and not is_remote_dir(ctx, dst):
        raise UsageError(f"mv: target '{dst_raw}' is not a directory")
    for src in sources:
        ctx.client.mv(src, into_dir(ctx, src, dst, dst_raw))


def chmod_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", help="octal mode, e.g. 644")
    p.add_argument("paths", nargs="+")


def chmod(ctx: Context, ns: argparse.Namespace) -> None:
    try:
        mode = int(ns.mode, 8)
    except ValueError:
        raise UsageError(f"chmod: invalid mode: {ns.mode}") from None
    for path in expand(ctx, ns.paths):
        ctx.client.chmod(path, mode)
        if ctx.interactive:
            ctx.echo(f"  changed mode of '{path}' to {mode:o}")
