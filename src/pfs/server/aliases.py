"""AGFS's aliases: ``POST /write`` (raw or ``{"data": "..."}``), and, in the route table,
``POST /mkdir`` and ``GET /list`` (the /directories handler under one method each)."""

from __future__ import annotations

from pfs.fs.errors import InvalidArgument
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server import files
from pfs.server.requests import body_field, json_body, required_path
from pfs.server.state import State


async def write(state: State, req: Request) -> Response:
    """A raw body is ``PUT /files`` (streamed, every query parameter of it); with a JSON
    ``Content-Type`` the body is ``{"data": "<text>"}`` and its UTF-8 bytes replace the file."""
    content_type = req.header(b"content-type") or b""
    if b"application/json" not in content_type.lower():
        return await files.write(state, req)
    body = await json_body(req, state.settings.max_body_bytes)
    data = body_field(body, "data", str)
    path = required_path(req)  # after the body, as AGFS checks it
    if data is None:
        raise InvalidArgument('invalid request body: expected {"data": "<text>"}')
    content = data.encode()
    state.fs.traffic.received += len(content)
    return json_response({"message": await state.fs.write(path, content)})
