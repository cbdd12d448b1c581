"""``GET /files?path=…/dequeue&wait=N`` (and ``peek``): a read that waits up to N seconds for
something to read, and takes nothing once its client has left."""

from __future__ import annotations

import asyncio
import contextlib
import math

from pfs.fs.errors import InvalidArgument
from pfs.http.requests import ClientGone, Request, wait_disconnect
from pfs.http.responses import OCTET_TYPE, Response
from pfs.server.state import State

#: Longest wait one request may ask for (seconds); clients wanting longer ask again.
MAX_WAIT = 60.0


def wait_param(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_WAIT:  # NaN fails too
        raise InvalidArgument(
            f"invalid wait parameter: {raw[:40]} (seconds from 0 to {MAX_WAIT:g})"
        )
    return seconds


async def read_waiting(state: State, req: Request, path: str) -> Response:
    seconds = wait_param(req.query["wait"])
    gone = asyncio.Event()

    async def watch() -> None:
        await wait_disconnect(req.receive)
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        data = await state.fs.read_waiting(path, seconds, gone)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if gone.is_set():
        raise ClientGone
    return Response(200, data, OCTET_TYPE)
