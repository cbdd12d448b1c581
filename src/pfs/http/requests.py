"""The request side of an ASGI app: one request object with the query, headers and a body read
with limits (413 beyond ``limit``, 408 when the client pauses too long).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

from pfs.fs.errors import InvalidArgument, RequestTimeout, TooLarge
from pfs.http.deadlines import deadlines


class ClientGone(Exception):
    """The client disconnected while the answer was being worked out: nobody is left to answer."""


#: Default of ``server.body_timeout``: the longest pause between two pieces of a request body.
BODY_TIMEOUT = 60.0


class Request:
    __slots__ = ("scope", "receive", "method", "path", "body_timeout", "_query", "_state")

    def __init__(self, scope: dict[str, Any], receive: Any, body_timeout: float = BODY_TIMEOUT):
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.body_timeout = body_timeout
        self._query: dict[str, str] | None = None
        self._state = _UNREAD

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = parse_query(self.scope.get("query_string", b""))
        return self._query

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header; ``name`` lower-case (ASGI servers lower-case names)."""
        headers: list[tuple[bytes, bytes]] = self.scope.get("headers", [])
        for key, value in headers:
            if key == name:
                return value
        return None

    def content_length(self) -> int | None:
        """The declared body length, None for a chunked body.

        Framings that two parsers could read differently are refused (400): Content-Length
        together with Transfer-Encoding, and any transfer coding but a single ``chunked``.
        (Granian drops Content-Length itself when both are sent; other ASGI servers may not.)
        """
        length = coding = None
        for key, value in self.scope.get("headers", ()):
            if key == b"content-length":
                length = value
            elif key == b"transfer-encoding":
                coding = value if coding is None else coding + b", " + value
        if coding is not None:
            if length is not None:
                raise InvalidArgument(
                    "invalid request: Content-Length and Transfer-Encoding are both set"
                )
            if coding.strip().lower() != b"chunked":
                raise InvalidArgument(
                    f"invalid request: Transfer-Encoding {coding.decode('latin-1')!r} is not "
                    "supported (only chunked)"
                )
            return None
        try:
            return int(length) if length is not None else None
        except ValueError:
            raise InvalidArgument("invalid argument Content-Length: not a number") from None

    def body_pending(self) -> bool:
        """Whether a body was announced and not read to its end (the connection then cannot
        carry another request)."""
        if self._state == _COMPLETE:
            return False
        if self._state == _STARTED:
            return True
        length = self.header(b"content-length")
        return self.header(b"transfer-encoding") is not None or (
            length is not None and length != b"0"
        )

    async def _piece(self) -> dict[str, Any]:
        """The next body message; a client silent for ``body_timeout`` seconds gets 408."""
        task = asyncio.current_task()
        if task is None:  # not run by a task: nothing to cancel, no deadline
            message: dict[str, Any] = await self.receive()
        else:
            watch = deadlines()
            watch.arm(task, self.body_timeout)
            try:
                message = await self.receive()
            except asyncio.CancelledError:
                # The deadline's cancellation becomes the 408; any other stays a cancellation.
                if not (watch.disarm(task, self.body_timeout) and task.uncancel() == 0):
                    raise
                raise RequestTimeout(
                    f"request body: nothing received for {self.body_timeout:g} seconds "
                    "(server.body_timeout)"
                ) from None
            finally:
                watch.disarm(task, self.body_timeout)
        if message["type"] == "http.disconnect":
            # Granian reports a malformed chunked body the same way as a client that left.
            raise InvalidArgument(
                "request body incomplete: the connection ended or the chunked encoding is invalid"
            )
        if not message.get("more_body", False):
            self._state = _COMPLETE
        return message

    async def stream(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk as it arrives."""
        if self._state != _UNREAD:
            return
        self._state = _STARTED
        while self._state != _COMPLETE:
            body = (await self._piece()).get("body", b"")
            if body:
                yield body

    async def body(self, limit: int) -> bytes:
        """The whole body; over ``limit`` bytes answers 413 without buffering the rest."""
        length = self.content_length()
        if length is not None and length > limit:
            raise TooLarge(f"request body of {length} bytes exceeds the limit of {limit} bytes")
        if self._state != _UNREAD:
            return b""
        self._state = _STARTED
        parts = []
        total = 0
        while self._state != _COMPLETE:
            chunk = (await self._piece()).get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise TooLarge(f"request body exceeds the limit of {limit} bytes")
                parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def json(self, limit: int = 1 << 20) -> Any:
        """The JSON body, first value only; keys matched case-insensitively like Go's decoder."""
        raw = await self.body(limit)
        return orjson.loads(raw)


# How far a request's body has been read.
_UNREAD, _STARTED, _COMPLETE = range(3)


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


async def wait_disconnect(receive: Any) -> None:
    """Return once the client has left (every other message is dropped)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
