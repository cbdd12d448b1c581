"""HTTP ``Range`` requests on GET /files (single byte ranges, as curl -r and browsers send)."""

from __future__ import annotations

from pfs.fs.base import FileSystem
from pfs.fs.errors import InvalidArgument
from pfs.httprange import parse_range
from pfs.server.http import OCTET_TYPE, Response, StreamResponse, error_response


async def range_response(fs: FileSystem, path: str, header: str) -> Response | StreamResponse:
    info = await fs.stat(path)
    if info.read_effect:
        raise InvalidArgument(
            f"read: {path}: this file is read whole (a range of it would consume or wait for "
            "data that the rest of the read then loses)"
        )
    try:
        span = parse_range(header, info.size)
    except ValueError:
        return StreamResponse(await fs.read_stream(path))
    if span is None:
        return error_response(
            416,
            f"range not satisfiable: {header} (file size {info.size})",
            [(b"content-range", f"bytes */{info.size}".encode())],
        )
    start, end = span
    headers = [
        (b"content-range", f"bytes {start}-{end}/{info.size}".encode()),
        (b"accept-ranges", b"bytes"),
        (b"content-length", str(end - start + 1).encode()),
    ]
    return StreamResponse(
        await fs.read_stream(path, start, end - start + 1), OCTET_TYPE, 206, headers
    )
