"""Copies between PFS and the local disk: cp, upload, download."""

from __future__ import annotations

import argparse
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pfs.client import IsADirectory
from pfs.client._base import ProgressCallback
from pfs.shell.commands.common import dump_json, expand, into_dir
from pfs.shell.context import LOCAL_PREFIX, Context, UsageError
from pfs.shell.formatting import human_size
from pfs.shell.progress import transfer_progress


def cp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="src… dst")
    p.add_argument("-r", "-R", "--recursive", action="store_true")
    quiet_arg(p)


def quiet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print no summary")


def cp(ctx: Context, ns: argparse.Namespace) -> None:
    if len(ns.paths) < 2:
        raise UsageError("cp: needs a source and a destination")
    *sources, dst_raw = ns.paths
    with transfer_progress(ctx.progress) as bars:
        for src_raw in sources:
            copy_one(ctx, src_raw, dst_raw, ns.recursive, Tally(bars), ns.quiet)


class Tally:
    """A transfer's progress callback that counts the files it reports (the SDK reports each
    file as it starts) and the time taken, passing every call on to the progress bars."""

    def __init__(self, bars: ProgressCallback | None) -> None:
        self.bars = bars
        self.names: set[str] = set()
        self.started = time.monotonic()

    def __call__(self, name: str, done: int, total: int | None) -> None:
        self.names.add(name)
        if self.bars is not None:
            self.bars(name, done, total)

    def summary(
        self, ctx: Context, verb: str, src: object, dst: object, size: int, files_known: bool = True
    ) -> None:
        """``Copied SRC -> DST (N bytes, F files, T s)``, or the same facts as JSON."""
        seconds = round(time.monotonic() - self.started, 3)
        files = len(self.names) if files_known else None
        facts = [f"{size} bytes" + (f" = {human_size(size)}" if size >= 1024 else "")]
        if files is not None:
            facts.append(f"{files} file" + ("" if files == 1 else "s"))
        facts.append(f"{seconds:.2f} s")
        message = f"{verb} {src} -> {dst} ({', '.join(facts)})"
        if ctx.json:
            dump_json(
                ctx,
                {
                    "message": message,
                    "source": str(src),
                    "destination": str(dst),
                    "bytes": size,
                    "files": files,
                    "seconds": seconds,
                },
            )
        else:
            ctx.echo(message)


@contextmanager
def needs_r(path: object, recursive: bool) -> Iterator[None]:
    """A directory given without ``-r``: the SDK says ``use recursive=True``, its own argument;
    the shell names its flag instead."""
    try:
        yield
    except IsADirectory:
        if recursive:
            raise
        raise IsADirectory(f"{path} is a directory (use -r)") from None


def local_path(raw: str) -> Path:
    return Path(os.path.expanduser(raw.removeprefix(LOCAL_PREFIX)))


def copy_one(
    ctx: Context, src_raw: str, dst_raw: str, recursive: bool, tally: Tally, quiet: bool
) -> None:
    src_local, dst_local = ctx.is_local(src_raw), ctx.is_local(dst_raw)
    if src_local and dst_local:
        raise UsageError("cp: both paths are local; use cp(1)")
    if src_local:
        src = local_path(src_raw)
        dst = into_dir(ctx, src.name, ctx.resolve(dst_raw), dst_raw)
        with needs_r(src, recursive):
            sent = ctx.client.upload(src, dst, recursive=recursive, progress=tally)
        if not quiet:
            tally.summary(ctx, "Uploaded", src, dst, sent)
    elif dst_local:
        src = ctx.resolve(src_raw)
        dst = local_path(dst_raw)
        if dst.is_dir():
            dst = dst / posixpath.basename(src)
        with needs_r(src, recursive):
            got = ctx.client.download(src, dst, recursive=recursive, progress=tally)
        if not quiet:
            tally.summary(ctx, "Downloaded", src, dst, got)
    else:
        for src in expand(ctx, [src_raw], reading=True):
            dst = into_dir(ctx, src, ctx.resolve(dst_raw), dst_raw)
            with needs_r(src, recursive):
                copied = ctx.client.copy(src, dst, recursive=recursive, progress=tally)
            # cp(1) is silent into a pipe; a person (terminal, pfs sh) or a script (--json)
            # gets the summary. A tree copied on the server reports one call: files unknown.
            if not quiet and (ctx.terminal or ctx.interactive or ctx.json):
                tally.summary(ctx, "Copied", src, dst, copied, files_known=not recursive)


def transfer_args(
    source: str, target: str, resumable: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """The arguments of upload and download: a source, a target, ``-r`` (and ``-c``)."""

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument(source)
        p.add_argument(target)
        p.add_argument("-r", "-R", "--recursive", action="store_true")
        quiet_arg(p)
        if resumable:
            p.add_argument(
                "-c",
                "--continue",
                dest="resume",
                action="store_true",
                help="resume an interrupted download from its .NAME.pfs-partial file",
            )

    return configure


def upload(ctx: Context, ns: argparse.Namespace) -> None:
    src = local_path(ns.local)
    dst = into_dir(ctx, src.name, ctx.resolve(ns.remote), ns.remote)
    with transfer_progress(ctx.progress) as bars:
        tally = Tally(bars)
        with needs_r(src, ns.recursive):
            sent = ctx.client.upload(src, dst, recursive=ns.recursive, progress=tally)
    if not ns.quiet:
        tally.summary(ctx, "Uploaded", src, dst, sent)


def download(ctx: Context, ns: argparse.Namespace) -> None:
    src = ctx.resolve(ns.remote)
    dst = local_path(ns.local)
    if dst.is_dir():
        dst = dst / (posixpath.basename(src) or "root")
    with transfer_progress(ctx.progress) as bars:
        tally = Tally(bars)
        with needs_r(src, ns.recursive):
            got = ctx.client.download(
                src, dst, recursive=ns.recursive, resume=ns.resume, progress=tally
            )
    if not ns.quiet:
        tally.summary(ctx, "Downloaded", src, dst, got)
