"""``POST /truncate?path=P&size=N``: cut a file to N bytes or extend it with zero bytes.

The plugin does it without reading what it drops (memfs, localfs, kvfs, sqlfs, s3fs); plugins
whose files are not byte sequences (queuefs, streamfs, hellofs, serverinfofs, httpfs) accept it
as a no-op, so a shell's or FUSE's truncating open before a write works there; the others
answer 501.
"""

from __future__ import annotations

from pfs.fs.errors import InvalidArgument
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.requests import int_param, required_path
from pfs.server.state import State


async def truncate(state: State, req: Request) -> Response:
    path = required_path(req)
    if not req.query.get("size"):
        raise InvalidArgument("size parameter is required")
    size = int_param(req, "size", 0)
    if size < 0:
        raise InvalidArgument(f"size must be non-negative, got {size}")
    await state.fs.truncate(path, size)
    return json_response({"message": "truncated"})
