"""The HTTP ``Range`` header, parsed once for the API server and httpfs."""

from __future__ import annotations


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
