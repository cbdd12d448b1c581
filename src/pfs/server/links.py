"""``POST /symlink?path=LINK`` ``{"target": T}`` and ``GET /readlink?path=LINK``.

Links are followed by the mount table for every operation on a path through them (see
:mod:`pfs.fs.links`); these two handlers only make and read them.
"""

from __future__ import annotations

from pfs.fs.errors import InvalidArgument
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.requests import body_field, json_body, required_path
from pfs.server.state import State


async def symlink(state: State, req: Request) -> Response:
    path = required_path(req)
    body = await json_body(req, state.settings.max_json_bytes)
    target = body_field(body, "target", str)
    if not target:
        raise InvalidArgument("target is required")
    await state.fs.symlink(path, target)
    return json_response({"message": "symlink created"}, 201)


async def readlink(state: State, req: Request) -> Response:
    return json_response({"target": await state.fs.readlink(required_path(req))})
