"""The answer side of an ASGI app: a whole body, a streamed one, and the JSON and text shapes.

Cheaper than a framework on the hot path (Starlette costs ~35% of throughput on a 1 KiB read here,
DESIGN.md). A response is called with ``(send, receive)``: ``receive`` lets a stream notice that
its client left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from pfs.fs.errors import FSError
from pfs.http.requests import wait_disconnect

JSON_TYPE = b"application/json"
OCTET_TYPE = b"application/octet-stream"
TEXT_TYPE = b"text/plain; charset=utf-8"

Headers = list[tuple[bytes, bytes]]

log = logging.getLogger("pfs.http")


def json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


class Response:
    """A body sent whole; its ``Content-Length`` is the body's unless ``headers`` give one (a
    HEAD answer states the length of the body it leaves out)."""

    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = JSON_TYPE,
        headers: Headers | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers

    @property
    def sent(self) -> int:
        """Body bytes sent (for the access log): the whole body, once sent at all."""
        return len(self.body)

    async def __call__(self, send: Any, receive: Any) -> None:
        headers = [(b"content-type", self.content_type)]
        if not self.headers:
            headers.append((b"content-length", b"%d" % len(self.body)))
        else:
            if not any(name == b"content-length" for name, _ in self.headers):
                headers.append((b"content-length", b"%d" % len(self.body)))
            headers.extend(self.headers)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json_bytes(obj))


def error_response(status: int, message: str, headers: Headers | None = None) -> Response:
    """The API's error shape: ``{"error": message}``."""
    return Response(status, json_bytes({"error": message}), JSON_TYPE, headers)


def text_response(status: int, message: str, headers: Headers | None = None) -> Response:
    """A plain-text answer (for people and browsers): ``message`` and a newline."""
    return Response(status, message.encode() + b"\n", TEXT_TYPE, headers)


#: How an app words its errors: ``error_response`` (the API) or ``text_response`` (httpfs).
ErrorResponse = Callable[[int, str, Headers | None], Response]


class StreamResponse:
    """Chunked body from an async iterator; headers go out at once, and a client that leaves
    cancels the iterator (so a live stream's reader is freed immediately)."""

    __slots__ = ("status", "chunks", "content_type", "headers", "sent")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        content_type: bytes = OCTET_TYPE,
        status: int = 200,
        headers: Headers | None = None,
    ) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.status = status
        self.headers = headers or []
        #: Body bytes sent so far (for the access log).
        self.sent = 0

    async def _pump(self, send: Any) -> None:
        async for chunk in self.chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.sent += len(chunk)
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
        watch = asyncio.ensure_future(wait_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                if not task.done():
                    task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.aclose()
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            failure = pump.exception()
            if isinstance(failure, FSError):
                # Headers are gone: returning without the final piece aborts the transfer, so
                # the client sees a truncated body rather than a clean end.
                log.warning("stream aborted: %s", failure)
                return
            raise failure  # type: ignore[misc]


    async def aclose(self) -> None:
        """Close the chunks' source (also when the response is never sent)."""
        aclose = getattr(self.chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def head_only(response: Response | StreamResponse) -> Response:
    """The answer to HEAD: ``response``'s status and headers without its body. A stream is closed
    unread; its headers should state its length (one that does not is answered as empty)."""
    if isinstance(response, StreamResponse):
        await response.aclose()
        headers = [(b"x-content-type-options", b"nosniff"), *response.headers]
        return Response(response.status, b"", response.content_type, headers)
    headers = [(b"content-length", b"%d" % len(response.body)), *(response.headers or ())]
    return Response(response.status, b"", response.content_type, headers)


class Prefixed:
    """Chunks already taken from ``rest``, then the rest of it; closing closes ``rest``."""

    __slots__ = ("_head", "_rest")

    def __init__(self, head: list[bytes], rest: AsyncIterator[bytes]) -> None:
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
