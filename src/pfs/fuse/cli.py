"""``pfs fuse MOUNTPOINT [--server URL]``: mount, serve until Ctrl-C/SIGTERM, unmount cleanly."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import pyfuse3
import pyfuse3.asyncio

from pfs.client import AsyncClient
from pfs.fs.errors import FSError
from pfs.fuse.ops import PFSOperations

log = logging.getLogger("pfs.fuse")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pfs fuse", description="Mount a PFS server's namespace as a local file system."
    )
    parser.add_argument("mountpoint", help="an existing empty directory")
    parser.add_argument(
        "--server",
        default=None,
        help="server URL (default: $PFS_API_URL, else http://localhost:8080)",
    )
    parser.add_argument("--token", default=None, help="API token (default: $PFS_TOKEN)")
    parser.add_argument(
        "--ttl", type=float, default=1.0, help="seconds attributes and listings stay cached"
    )
    parser.add_argument("--allow-other", action="store_true", help="let other users see the mount")
    parser.add_argument("--debug", action="store_true", help="log every failing request")
    return parser.parse_args(argv)


def mount_options(args: argparse.Namespace) -> set[str]:
    options = set(pyfuse3.default_options) | {"fsname=pfs", "subtype=pfs"}
    if args.allow_other:
        options.add("allow_other")
    return options


async def serve(args: argparse.Namespace) -> None:
    # No stall limit: a program reading a live stream through the mount waits as long as it likes.
    client = AsyncClient(args.server, token=args.token, stall_timeout=None)
    try:
        await client.health()
    except FSError as exc:
        await client.aclose()
        raise SystemExit(f"pfs fuse: {exc}") from None
    ops = PFSOperations(client, ttl=args.ttl)
    pyfuse3.init(ops, args.mountpoint, mount_options(args))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        pyfuse3.terminate()
        ops.end_stream_reads()  # the main loop ends only when every request has its answer

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    log.info("mounted %s at %s", client.base_url, args.mountpoint)
    unmounted = False
    try:
        await pyfuse3.main()
        await ops.flush_all()
        pyfuse3.close(unmount=True)
        unmounted = True
    finally:
        if not unmounted:
            pyfuse3.close(unmount=True)
        await client.aclose()
    log.info("unmounted %s", args.mountpoint)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per HTTP request is noise here; failures are logged by the operations.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if not os.path.isdir(args.mountpoint):
        print(f"pfs fuse: {args.mountpoint}: not a directory", file=sys.stderr)
        return 2
    pyfuse3.asyncio.enable()
    asyncio.run(serve(args))
    return 0
