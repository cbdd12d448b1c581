"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load in tests and benchmarks.

httpx's async pool costs several milliseconds per request when dozens of tasks share it on a
busy 2-core machine; one of these per task keeps the client from being the bottleneck.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote


class RawConnection:
    """One keep-alive connection; ``request`` answers (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    def for_url(cls, base_url: str) -> RawConnection:
        """From ``http://host:port[/...]``."""
        hostport = base_url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        return cls(host, int(port))

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        reader = self._reader
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = -1
        chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            return status, b"".join(parts)
        return status, await reader.readexactly(length) if length > 0 else b""

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
            self._writer = self._reader = None


def files_target(path: str) -> str:
    """The request target of ``/api/v1/files`` for ``path``."""
    return "/api/v1/files?path=" + quote(path, safe="/")
