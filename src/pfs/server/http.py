"""A thin ASGI layer: just what the handlers need, cheaper than a framework on the hot path.

Starlette costs ~35% of throughput on a 1 KiB read here (DESIGN.md); this keeps one request
object, three response kinds and a disconnect-aware streaming sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

from pfs.fs.errors import FSError, InvalidArgument, TooLarge

JSON_TYPE = b"application/json"
OCTET_TYPE = b"application/octet-stream"

log = logging.getLogger("pfs.server")


class ClientGone(Exception):
    """The client disconnected before the request body was read."""


class Request:
    __slots__ = ("scope", "receive", "method", "path", "_query", "_consumed")

    def __init__(self, scope: dict[str, Any], receive: Any) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self._query: dict[str, str] | None = None
        self._consumed = False

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = parse_query(self.scope.get("query_string", b""))
        return self._query

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header; ``name`` lower-case (ASGI servers lower-case names)."""
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return value
        return None

    def content_length(self) -> int | None:
        value = self.header(b"content-length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            raise InvalidArgument("invalid argument Content-Length: not a number") from None

    async def stream(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk as it arrives."""
        if self._consumed:
            return
        self._consumed = True
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone("client disconnected during the request body")
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    async def body(self, limit: int) -> bytes:
        """The whole body; over ``limit`` bytes answers 413 without buffering the rest."""
        length = self.content_length()
        if length is not None and length > limit:
            raise TooLarge(f"request body of {length} bytes exceeds the limit of {limit} bytes")
        if self._consumed:
            return b""
        self._consumed = True
        parts = []
        total = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone("client disconnected during the request body")
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise TooLarge(f"request body exceeds the limit of {limit} bytes")
                parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)

    async def json(self, limit: int = 1 << 20) -> Any:
        """The JSON body, first value only; keys matched case-insensitively like Go's decoder."""
        raw = await self.body(limit)
        return orjson.loads(raw)


def parse_query(raw: bytes) -> dict[str, str]:
    """Query parameters; only the first value of a repeated name counts (Go's Query().Get)."""
    query: dict[str, str] = {}
    if not raw:
        return query
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    else:
        pairs = [(k, v) for k, _, v in (p.partition("=") for p in text.split("&") if p)]
    for key, value in pairs:
        query.setdefault(key, value)
    return query


def json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


class Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = JSON_TYPE,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers

    async def __call__(self, send: Any, receive: Any) -> None:
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.headers:
            headers.extend(self.headers)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json_bytes(obj))


def error_response(status: int, message: str, headers=None) -> Response:
    return Response(status, json_bytes({"error": message}), JSON_TYPE, headers)


class StreamResponse:
    """Chunked body from an async iterator; headers go out at once, and a client that leaves
    cancels the iterator (so a live stream's reader is freed immediately)."""

    __slots__ = ("status", "chunks", "content_type", "headers")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        content_type: bytes = OCTET_TYPE,
        status: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.status = status
        self.headers = headers or []

    async def _pump(self, send: Any) -> None:
        async for chunk in self.chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, send: Any, receive: Any) -> None:
        headers = [
            (b"content-type", self.content_type),
            (b"x-content-type-options", b"nosniff"),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        # An empty piece makes the ASGI server flush the status line and headers now, so a
        # client of an idle live stream sees the 200 before the first data arrives.
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                if not task.done():
                    task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            aclose = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            failure = pump.exception()
            if isinstance(failure, FSError):
                # Headers are gone: returning without the final piece aborts the transfer, so
                # the client sees a truncated body rather than a clean end.
                log.warning("stream aborted: %s", failure)
                return
            raise failure  # type: ignore[misc]


async def _wait_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class Prefixed:
    """Chunks already taken from ``rest``, then the rest of it; closing closes ``rest``."""

    __slots__ = ("_head", "_rest")

    def __init__(self, head: list[bytes], rest: Any) -> None:
        self._head = head
        self._rest = rest

    def __aiter__(self) -> Prefixed:
        return self

    async def __anext__(self) -> bytes:
        if self._head:
            return self._head.pop(0)
        return await self._rest.__anext__()

    async def aclose(self) -> None:
        close = getattr(self._rest, "aclose", None)
        if close is not None:
            await close()
