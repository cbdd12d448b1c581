"""The anchor: a bare Granian RSGI app answering every request with 1 KiB."""

from __future__ import annotations

BODY = b"x" * 1024


async def app(scope, proto):
    proto.response_bytes(200, [("content-type", "application/octet-stream")], BODY)
