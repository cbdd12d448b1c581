"""Copies between PFS and the local disk: cp, upload, download."""

from __future__ import annotations

import argparse
import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from pfs.shell.commands.common import expand, into_dir, print_message
from pfs.shell.context import LOCAL_PREFIX, Context, UsageError
from pfs.shell.progress import transfer_progress


def cp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="src… dst")
    p.add_argument("-r", "-R", "--recursive", action="store_true")


def cp(ctx: Context, ns: argparse.Namespace) -> None:
    if len(ns.paths) < 2:
        raise UsageError("cp: needs a source and a destination")
    *sources, dst_raw = ns.paths
    with transfer_progress(ctx.progress) as progress:
        for src_raw in sources:
            copy_one(ctx, src_raw, dst_raw, ns.recursive, progress)


def local_path(raw: str) -> Path:
    return Path(os.path.expanduser(raw.removeprefix(LOCAL_PREFIX)))


def copy_one(ctx: Context, src_raw: str, dst_raw: str, recursive: bool, progress) -> None:
    src_local, dst_local = ctx.is_local(src_raw), ctx.is_local(dst_raw)
    if src_local and dst_local:
        raise UsageError("cp: both paths are local; use cp(1)")
    if src_local:
        src = local_path(src_raw)
        dst = into_dir(ctx, src.name, ctx.resolve(dst_raw), dst_raw)
        sent = ctx.client.upload(src, dst, recursive=recursive, progress=progress)
        print_message(ctx, f"Uploaded {src} -> {dst} ({sent} bytes)")
    elif dst_local:
        src = ctx.resolve(src_raw)
        dst = local_path(dst_raw)
        if dst.is_dir():
            dst = dst / posixpath.basename(src)
        got = ctx.client.download(src, dst, recursive=recursive, progress=progress)
        print_message(ctx, f"Downloaded {src} -> {dst} ({got} bytes)")
    else:
        for src in expand(ctx, [src_raw], reading=True):
            dst = into_dir(ctx, src, ctx.resolve(dst_raw), dst_raw)
            copied = ctx.client.copy(src, dst, recursive=recursive, progress=progress)
            if ctx.interactive or ctx.json:
                print_message(ctx, f"Copied {src} -> {dst} ({copied} bytes)")


def transfer_args(
    source: str, target: str, resumable: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """The arguments of upload and download: a source, a target, ``-r`` (and ``-c``)."""

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument(source)
        p.add_argument(target)
        p.add_argument("-r", "-R", "--recursive", action="store_true")
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
    with transfer_progress(ctx.progress) as progress:
        sent = ctx.client.upload(src, dst, recursive=ns.recursive, progress=progress)
    print_message(ctx, f"Uploaded {src} -> {dst} ({sent} bytes)")


def download(ctx: Context, ns: argparse.Namespace) -> None:
    src = ctx.resolve(ns.remote)
    dst = local_path(ns.local)
    if dst.is_dir():
        dst = dst / (posixpath.basename(src) or "root")
    with transfer_progress(ctx.progress) as progress:
        got = ctx.client.download(
            src, dst, recursive=ns.recursive, resume=ns.resume, progress=progress
        )
    print_message(ctx, f"Downloaded {src} -> {dst} ({got} bytes)")
