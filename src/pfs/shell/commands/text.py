"""Text filters for pipes and files: head, wc, sort (``cat x | wc -l`` as everyone types it).

Each reads the PFS files named, else what is piped in (``pfs sh`` pipes, ``< file``, or the
process's stdin one-shot). ``head`` stops reading once it has its lines; ``sort`` holds its input
in memory, so it refuses more than ``SORT_LIMIT`` bytes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from pfs.shell.commands.common import expand, piped_bytes
from pfs.shell.context import Context, UsageError

SORT_LIMIT = 64 << 20


def _piped_chunks(ctx: Context) -> Iterator[bytes]:
    if ctx.stdin is not None:
        yield piped_bytes(ctx)
    elif not ctx.interactive:
        yield from iter(lambda: sys.stdin.buffer.read(1 << 16), b"")


def input_chunks(ctx: Context, paths: list[str]) -> Iterator[bytes]:
    """The named files one after another, else the piped input."""
    if not paths:
        yield from _piped_chunks(ctx)
        return
    for path in expand(ctx, paths, reading=True):
        yield from ctx.client.iter_cat(path)


def head_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*")
    p.add_argument("-n", "--lines", type=int, default=10)


def head(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.lines < 0:
        raise UsageError("head: -n takes a number of lines, 0 or more")
    wanted, kept = ns.lines, []
    chunks = input_chunks(ctx, ns.paths)
    for chunk in chunks:
        if wanted <= 0:
            break
        lines = chunk.splitlines(keepends=True)
        if kept and not kept[-1].endswith(b"\n") and lines:
            kept[-1] += lines.pop(0)  # a line split across chunks
        kept.extend(lines)
        wanted = ns.lines - sum(1 for line in kept if line.endswith(b"\n"))
    if hasattr(chunks, "close"):
        chunks.close()  # the rest of a large file is never fetched
    ctx.write(b"".join(kept[: ns.lines]))


def wc_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*")
    p.add_argument("-l", "--lines", action="store_true")
    p.add_argument("-w", "--words", action="store_true")
    p.add_argument("-c", "--bytes", action="store_true")


def wc(ctx: Context, ns: argparse.Namespace) -> None:
    lines = words = size = 0
    in_word = False
    for chunk in input_chunks(ctx, ns.paths):
        lines += chunk.count(b"\n")
        size += len(chunk)
        words += len(chunk.split())
        # A word split across two chunks counts once.
        if in_word and chunk[:1] and not chunk[:1].isspace():
            words -= 1
        in_word = bool(chunk) and not chunk[-1:].isspace()
    shown = [n for n, on in ((lines, ns.lines), (words, ns.words), (size, ns.bytes)) if on]
    ctx.echo(" ".join(str(n) for n in (shown or [lines, words, size])))


def sort_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*")
    p.add_argument("-r", "--reverse", action="store_true")
    p.add_argument("-n", "--numeric", action="store_true", help="compare leading numbers")
    p.add_argument("-u", "--unique", action="store_true")


def _number(line: bytes) -> float:
    head = line.split(maxsplit=1)
    try:
        return float(head[0]) if head else 0.0
    except ValueError:
        return 0.0


def sort(ctx: Context, ns: argparse.Namespace) -> None:
    data = bytearray()
    for chunk in input_chunks(ctx, ns.paths):
        data += chunk
        if len(data) > SORT_LIMIT:
            raise UsageError(f"sort: input over {SORT_LIMIT >> 20} MiB (sort holds it in memory)")
    lines = bytes(data).splitlines()
    if ns.unique:
        lines = list(dict.fromkeys(lines))
    lines.sort(key=_number if ns.numeric else None, reverse=ns.reverse)
    ctx.write(b"".join(line + b"\n" for line in lines))
