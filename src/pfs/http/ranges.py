"""Byte ranges (RFC 9110 §14): the ``Range`` header parsed once, and the 206 and 416 answers built
once, for the API server's ``GET /files`` and for httpfs. Single ranges only, as curl ``-r``,
``wget -c`` and browsers send.
"""

from __future__ import annotations

from collections.abc import Sequence

from pfs.fs import FileInfo, FileSystem, InvalidArgument
from pfs.http.responses import OCTET_TYPE, ErrorResponse, Response, StreamResponse, error_response


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


async def range_response(
    fs: FileSystem,
    path: str,
    info: FileInfo,
    header: str,
    *,
    content_type: bytes = OCTET_TYPE,
    headers: Sequence[tuple[bytes, bytes]] = (),
    error: ErrorResponse = error_response,
) -> Response | StreamResponse | None:
    """The answer to ``Range: header`` for the file ``path`` of ``fs`` (``info`` its stat): 206
    streaming the range, or 416 worded by ``error``; None when ``header`` is not a single byte
    range, so the caller answers with the whole file.

    Raises InvalidArgument for a file whose read has an effect: a range of it would consume or
    wait for data that the rest of the read then loses.
    """
    if info.read_effect:
        raise InvalidArgument(
            f"read: {path}: this file is read whole (a range of it would consume or wait for "
            "data that the rest of the read then loses)"
        )
    try:
        span = parse_range(header, info.size)
    except ValueError:
        return None
    if span is None:
        return error(
            416,
            f"range not satisfiable: {header} (file size {info.size})",
            [(b"content-range", b"bytes */%d" % info.size)],
        )
    start, end = span
    return StreamResponse(
        await fs.read_stream(path, start, end - start + 1),
        content_type,
        206,
        [
            *headers,
            (b"content-range", b"bytes %d-%d/%d" % (start, end, info.size)),
            (b"accept-ranges", b"bytes"),
            (b"content-length", b"%d" % (end - start + 1)),
        ],
    )
