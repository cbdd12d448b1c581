"""proxyfs: a remote PFS server mounted as a subtree (federation).

Every operation goes to the remote through the project SDK's :class:`~pfs.client.AsyncClient`
(one per mount), sending over aiohttp's connection pool (see ``_aiohttp_transport``). Reads
and writes stream through chunk by chunk; the remote's errors come back with its status and
message; a remote that is down or hangs is a 503/504 naming it within ``timeout``, never a hang.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from pfs.client import AsyncClient
from pfs.fs import (
    REPLACE,
    Field,
    FileInfo,
    FileSystem,
    FSError,
    InvalidArgument,
    Meta,
    Unavailable,
    WriteFlag,
)
from pfs.fs.base import Buffered
from pfs.plugins._aiohttp_transport import AiohttpTransport

log = logging.getLogger("pfs.plugins.proxyfs")
# httpx logs every request at INFO: one log line per proxied operation is noise, not news.
logging.getLogger("httpx").setLevel(logging.WARNING)

RELOAD_PATH = "/reload"
RELOAD_TEXT = b"Write to this file to reload the proxy connection\n"
RELOAD_DESCRIPTION = "Write to this file to reload the proxy connection"
_FLAG_NAMES = (
    (WriteFlag.APPEND, "append"),
    (WriteFlag.CREATE, "create"),
    (WriteFlag.EXCLUSIVE, "exclusive"),
    (WriteFlag.TRUNCATE, "truncate"),
)


def normalize_base_url(raw: str) -> str:
    """``http://h:p/`` → ``http://h:p/api/v1`` (the original's rule), checked to be a URL."""
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(
            f"invalid base_url format: {raw!r} (expected http://host:port[/api/v1])"
        )
    return url if url.endswith("/api/v1") else url + "/api/v1"


class ProxyFS(FileSystem):
    fstype = "proxyfs"
    config_schema = (
        Field("base_url", "string", required=True, help="remote server, e.g. http://host:8080"),
        Field("timeout", "number", default=10, help="seconds for a request or a stream's pause"),
    )
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.base_url = normalize_base_url(config["base_url"])
        self.timeout = float(config.get("timeout") or 10)
        self.remote = self.base_url[: -len("/api/v1")]
        self._client: AsyncClient | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def _new_client(self) -> AsyncClient:
        # Every read, streamed or not, is bounded by ``timeout`` per chunk; the transport lifts
        # that for live streams (``stream=true``), which may idle as long as their producer does.
        return AsyncClient(
            self.base_url,
            timeout=self.timeout,
            stall_timeout=self.timeout,
            transport=AiohttpTransport(),
        )

    async def _connect(self) -> AsyncClient:
        client = self._new_client()
        try:
            await client.health()
        except Exception as exc:
            await client.aclose()
            detail = exc.message if isinstance(exc, FSError) else str(exc)
            raise Unavailable(
                f"failed to connect to remote PFS server at {self.remote}: {detail}"
            ) from exc
        return client

    async def start(self) -> None:
        self._client = await self._connect()

    async def shutdown(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def reload(self) -> str:
        """Rebuild the HTTP client and check the remote again (``echo > /reload``)."""
        try:
            fresh = await self._connect()
        except Unavailable as exc:
            raise Unavailable(f"reload failed: {exc.message}") from exc
        old, self._client = self._client, fresh
        if old is not None:
            await old.aclose()
        return "ProxyFS reloaded successfully"

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise Unavailable(f"proxyfs: not connected to {self.remote}")
        return self._client

    def _transport_error(self, exc: FSError) -> FSError:
        """An SDK error raised because the remote could not be talked to names the remote;
        errors the remote answered with pass through untouched."""
        if isinstance(exc.__cause__, httpx.HTTPError):
            return type(exc)(f"remote PFS server {self.remote}: {exc.message}")
        return exc

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, method)(*args, **kwargs)
        except FSError as exc:
            raise self._transport_error(exc) from exc

    # -- the reload control file -----------------------------------------------------------

    def _reload_info(self, mtime_ns: int | None = None) -> FileInfo:
        return FileInfo(
            "reload",
            0,
            0o200,
            mtime_ns or time.time_ns(),
            False,
            Meta("", "control", {"description": RELOAD_DESCRIPTION, "remote-url": self.base_url}),
        )

    # -- metadata --------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        if path == RELOAD_PATH:
            return self._reload_info()
        info: FileInfo = await self._call("stat", path)
        info.meta.content = {**(info.meta.content or {}), "remote-url": self.base_url}
        return info

    async def readdir(self, path: str) -> list[FileInfo]:
        entries: list[FileInfo] = await self._call("ls", path)
        if path == "/" and not any(e.name == "reload" for e in entries):
            # The original copies the first entry's time (and panics on an empty root).
            entries.append(self._reload_info(entries[0].mtime_ns if entries else None))
        return entries

    async def create(self, path: str) -> None:
        await self._call("create", path)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._call("mkdir", path, mode or 0o755)

    async def remove(self, path: str, recursive: bool = False) -> None:
        await self._call("rm", path, recursive)

    async def rename(self, old: str, new: str) -> None:
        await self._call("mv", old, new)

    async def chmod(self, path: str, mode: int) -> None:
        await self._call("chmod", path, mode)

    # -- read ------------------------------------------------------------------------------

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == RELOAD_PATH:
            return RELOAD_TEXT[max(offset, 0) :][: None if size < 0 else size]
        return await self._call("cat", path, offset, size)

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        """The remote's body relayed chunk by chunk. The first chunk is awaited here so a
        remote error is raised at open; a one-chunk file becomes a plain response."""
        if path == RELOAD_PATH:
            return Buffered(await self.read(path, offset, size))
        chunks = self.client.iter_cat(path, offset, size)
        first = await self._next(chunks)
        if first is None:
            return Buffered(b"")
        second = await self._next(chunks)
        if second is None:
            return Buffered(first)
        return self._relay(chunks, [first, second])

    async def open_stream(self, path: str) -> AsyncIterator[bytes]:
        """A live pass-through of the remote's ``stream=true`` answer. A stat first makes a
        missing path fail at open (a live stream may not send a first chunk for a long time)."""
        await self._call("stat", path)
        return self._relay(self.client.iter_cat(path, stream=True), [])

    async def _next(self, chunks: Any) -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None
        except FSError as exc:
            await chunks.aclose()
            raise self._transport_error(exc) from exc

    async def _relay(self, chunks: Any, head: list[bytes]) -> AsyncIterator[bytes]:
        try:
            for chunk in head:
                yield chunk
            while (chunk := await self._next(chunks)) is not None:
                yield chunk
        finally:
            await chunks.aclose()

    # -- write -----------------------------------------------------------------------------

    @staticmethod
    def _write_args(offset: int, flags: WriteFlag) -> dict[str, Any]:
        if offset == 0 and flags == REPLACE:
            return {}  # a plain PUT: what every server understands
        return {
            "offset": offset,
            "flags": [name for flag, name in _FLAG_NAMES if flags & flag],
        }

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        if path == RELOAD_PATH:
            return await self.reload()
        return await self._call("write", path, data, **self._write_args(offset, flags))

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = 64 << 20,
    ) -> str:
        """The body goes to the remote as it arrives (chunked); ``limit`` is the remote's call."""
        if path == RELOAD_PATH:
            async for _ in chunks:
                pass
            return await self.reload()
        return await self._call("write", path, chunks, **self._write_args(offset, flags))
