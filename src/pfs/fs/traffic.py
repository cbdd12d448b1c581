"""Byte counters of the file bodies a server sends and receives (serverinfofs ``/traffic``).

The server counts where bodies pass: one integer add per body or per streamed piece. Only file
content counts (reads, writes, handle reads and writes), never JSON answers or requests.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator


class Traffic:
    __slots__ = ("sent", "received", "started_ns")

    def __init__(self) -> None:
        #: Bytes of file content sent to clients (downloads) and received from them (uploads).
        self.sent = 0
        self.received = 0
        self.started_ns = time.time_ns()

    def sending(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` counted as sent as they are taken."""
        return _Counted(chunks, self, sent=True)

    def receiving(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` counted as received as they are taken."""
        return _Counted(chunks, self, sent=False)


class _Counted:
    __slots__ = ("_chunks", "_traffic", "_sent")

    def __init__(self, chunks: AsyncIterator[bytes], traffic: Traffic, sent: bool) -> None:
        self._chunks = chunks
        self._traffic = traffic
        self._sent = sent

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.__anext__()
        if self._sent:
            self._traffic.sent += len(chunk)
        else:
            self._traffic.received += len(chunk)
        return chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()
