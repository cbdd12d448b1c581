"""What several commands share: glob expansion, remote directory checks, input and output."""

from __future__ import annotations

import fnmatch
import json
import posixpath
import sys
from collections.abc import Iterator
from typing import Any

from pfs.client import NotFound
from pfs.client._base import CHUNK_SIZE, walkable
from pfs.shell.context import Context, UsageError


def has_glob(path: str) -> bool:
    return any(ch in posixpath.basename(path) for ch in "*?[")


def expand(ctx: Context, paths: list[str], *, reading: bool = False) -> list[str]:
    """Resolve each path; ``*``/``?`` in the last component expand against the parent listing.

    For a command that reads the files (``reading``), a pattern never matches a file whose read
    has an effect or a write-only one (``cat /queuefs/jobs/*`` must not take a message); naming
    such a file outright still reads it.
    """
    result = []
    for raw in paths:
        path = ctx.resolve(raw)
        if not has_glob(path):
            result.append(path)
            continue
        parent, pattern = posixpath.split(path)
        entries = ctx.client.ls(parent)
        if reading:
            entries = walkable(entries)
        names = sorted(e.name for e in entries if fnmatch.fnmatchcase(e.name, pattern))
        if not names:
            raise NotFound(f"no match: {raw}")
        result.extend(posixpath.join(parent, name) for name in names)
    return result


def is_remote_dir(ctx: Context, path: str) -> bool:
    try:
        return ctx.client.stat(path).is_dir
    except NotFound:
        return False


def into_dir(ctx: Context, src: str, dst: str, dst_raw: str) -> str:
    """``cp a /dir`` means ``/dir/a`` when /dir is a directory (or written with a trailing /)."""
    if dst_raw.endswith("/") or is_remote_dir(ctx, dst):
        return posixpath.join(dst, posixpath.basename(src.rstrip("/")))
    return dst


def dump_json(ctx: Context, value: Any) -> None:
    ctx.echo(json.dumps(value, indent=2, ensure_ascii=False))


def piped_bytes(ctx: Context) -> bytes:
    """Input of a filter (cat, tee, grep) as bytes: piped data or a ``< file``."""
    if ctx.stdin is None or isinstance(ctx.stdin, bytes):
        return ctx.stdin or b""
    return ctx.stdin.read()


def stdin_chunks(ctx: Context, streaming: bool) -> Any:
    """What ``write`` sends: piped REPL data, a ``< file``, or stdin chunk by chunk."""
    if ctx.stdin is not None:
        return ctx.stdin
    if ctx.interactive:
        raise UsageError("no data: give the text as arguments or pipe into the command")
    source = sys.stdin.buffer
    # --stream hands over whatever arrived (read1) so a live producer is not held back.
    read = source.read1 if streaming else source.read

    def chunks() -> Iterator[bytes]:
        while chunk := read(CHUNK_SIZE):
            yield chunk

    return chunks()


def print_message(ctx: Context, message: str) -> None:
    if ctx.json:
        dump_json(ctx, {"message": message})
    elif message:
        ctx.echo(message)
