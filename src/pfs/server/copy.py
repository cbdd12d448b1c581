"""``POST /copy``: a server-side copy (pfs.fs.copying), no byte through the client."""

from __future__ import annotations

from pfs.fs.copying import copy as copy_paths
from pfs.fs.errors import InvalidArgument
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.requests import body_field, json_body
from pfs.server.state import State


async def copy(state: State, req: Request) -> Response:
    """``{"path", "newPath", "recursive"}`` (``path`` may also be a query parameter, as for
    ``/rename``) → ``{"message", "files", "bytes", "skipped", "skippedCount"}``."""
    body = await json_body(req, state.settings.max_json_bytes)
    path = body_field(body, "path", str) or req.query.get("path")
    if not path:
        raise InvalidArgument("path is required")
    new_path = body_field(body, "newPath", str)
    if not new_path:
        raise InvalidArgument("newPath is required")
    recursive = bool(body_field(body, "recursive", bool))
    report = await copy_paths(state.fs, path, new_path, recursive, state.settings.max_body_bytes)
    return json_response(
        {
            "message": "copied",
            "files": report.files,
            "bytes": report.bytes,
            "skipped": report.skipped,
            "skippedCount": report.skipped_count,
        }
    )
