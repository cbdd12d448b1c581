"""``pfs mcp [--server URL]``: a Model Context Protocol server on stdio for agents."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from pfs.client import AsyncClient
from pfs.mcp.server import build_server


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pfs mcp", description="Serve PFS tools to an MCP client over stdio."
    )
    parser.add_argument(
        "--server",
        default=None,
        help="server URL (default: $PFS_SERVER_URL, else $PFS_API_URL, else http://localhost:8080)",
    )
    parser.add_argument("--token", default=None, help="API token (default: $PFS_TOKEN)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    url = args.server or os.environ.get("PFS_SERVER_URL")  # the original pfs-mcp's variable
    async with AsyncClient(url, token=args.token) as client:
        await build_server(client).run_stdio_async()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args))
    return 0
