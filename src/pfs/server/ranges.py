"""HTTP ``Range`` requests on GET /files (single byte ranges, as curl -r and browsers send)."""

from __future__ import annotations

from pfs.fs.base import FileSystem
from pfs.server.http import OCTET_TYPE, Response, StreamResponse, error_response


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` → (start, end inclusive); None if unsatisfiable.

    Raises ValueError for a header that is not a single byte range (then it is ignored, as RFC 9110
    allows).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        raise ValueError(header)
    first, dash, last = spec.strip().partition("-")
    if not dash:
        raise ValueError(header)
    if first == "":
        suffix = int(last)
        if suffix <= 0 or size == 0:
            return None
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = int(last) if last else None
    if start < 0 or (end is not None and end < start):
        raise ValueError(header)
    if start >= size:
        return None
    return start, size - 1 if end is None else min(end, size - 1)


async def range_response(fs: FileSystem, path: str, header: str) -> Response | StreamResponse:
    info = await fs.stat(path)
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
