"""``POST /touch?path=P[&mtime=SECONDS]``: set a modification time, or create an empty file.

Without ``mtime`` the time is now; a missing file is created (empty). The time is set by the
plugin natively (``set_mtime``): the content is never read and rewritten, so touching a queue's
``dequeue`` consumes nothing (it answers 501: queuefs stores no times).
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation

from pfs.fs.errors import InvalidArgument, NotFound, NotSupported
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.requests import required_path
from pfs.server.state import State

#: Beyond this a time does not fit the signed 64-bit nanoseconds every plugin stores.
_MAX_SECONDS = 9_000_000_000


def parse_mtime_ns(raw: str) -> int:
    """Unix seconds as an int or a decimal fraction, read exactly (a float would round away the
    nanoseconds rsync compares)."""
    try:
        seconds = Decimal(raw)
    except InvalidOperation:
        raise InvalidArgument(f"invalid mtime parameter: {raw!r} is not a number") from None
    if not seconds.is_finite() or abs(seconds) > _MAX_SECONDS:
        raise InvalidArgument(f"invalid mtime parameter: {raw!r} is out of range")
    return int(seconds.scaleb(9))


async def touch(state: State, req: Request) -> Response:
    path = required_path(req)
    raw = req.query.get("mtime")
    mtime_ns = time.time_ns() if raw is None or raw == "" else parse_mtime_ns(raw)
    try:
        await state.fs.set_mtime(path, mtime_ns)
    except NotSupported:
        if await _exists(state, path):
            raise  # the plugin stores no times: 501, and the file stays as it was
        await _create(state, path, mtime_ns if raw else None)
    except NotFound:
        await _create(state, path, mtime_ns if raw else None)
    return json_response({"message": "touched"})


async def _exists(state: State, path: str) -> bool:
    try:
        await state.fs.stat(path)
    except NotFound:
        return False
    return True


async def _create(state: State, path: str, mtime_ns: int | None) -> None:
    """An empty file; with an explicit time that time too, or no file at all when the plugin
    cannot store it (the request fails and changes nothing)."""
    try:
        await state.fs.create(path)
    except NotSupported:
        await state.fs.write(path, b"")
    if mtime_ns is None:
        return
    try:
        await state.fs.set_mtime(path, mtime_ns)
    except NotSupported:
        await state.fs.remove(path)
        raise
