"""The asyncio client: ``_sync.Client``'s twin, method for method, over ``httpx.AsyncClient``."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from pfs.client import _base as B
from pfs.client._base import CHUNK_SIZE, Call, ProgressCallback
from pfs.client._content import async_content
from pfs.client._download import PartialDownload, already_downloaded
from pfs.fs.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound
from pfs.fs.fileinfo import FileInfo


class AsyncClient:
    """A PFS server seen from asyncio; same arguments and methods as :class:`Client`, awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        stall_timeout: float | None = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = B.resolve_base_url(base_url)
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=B.auth_headers(token),
            timeout=timeout,
            transport=transport,
        )

    # Plumbing.

    async def _send(self, call: Call) -> Any:
        try:
            response = await self._http.request(
                call.method, B.call_url(self.base_url, call), json=call.json
            )
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(exc, self.base_url, self.timeout) from exc
        B.check_response(response)
        return call.parse(response.content)

    @asynccontextmanager
    async def _stream(
        self, method: str, endpoint: str, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        timeout = httpx.Timeout(self.timeout, read=self.stall_timeout)
        try:
            async with self._http.stream(method, endpoint, timeout=timeout, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    B.check_response(response)
                yield response
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(
                exc, self.base_url, self.stall_timeout, streaming=True
            ) from exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # Endpoints.

    async def health(self) -> dict[str, Any]:
        return await self._send(B.health())

    async def ls(self, path: str = "/") -> list[FileInfo]:
        return await self._send(B.ls(path))

    async def stat(self, path: str) -> FileInfo:
        return await self._send(B.stat(path))

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except NotFound:
            return False
        return True

    async def cat(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        return await self._send(B.cat(path, offset, size))

    async def iter_cat(
        self,
        path: str,
        offset: int = 0,
        size: int = -1,
        *,
        stream: bool = False,
        chunk_size: int | None = CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        params = B.stream_params(path) if stream else B.read_params(path, offset, size)
        async with self._stream("GET", "/files", params=params) as response:
            chunks = response.aiter_bytes(None if stream else chunk_size)
            async for chunk in chunks:
                yield chunk

    def open(self, path: str, mode: str = "rb") -> AsyncRemoteFile:
        """A read-only async file (``await f.read(n)``, ``await f.seek(pos)``); lazy."""
        if mode not in ("rb", "r"):
            raise ValueError(f"unsupported mode {mode!r}: only 'rb' is supported")
        return AsyncRemoteFile(self, path)

    async def write(
        self,
        path: str,
        data: Any,
        *,
        offset: int | None = None,
        flags: Any = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        params = B.write_params(path, offset, flags)
        content = async_content(data, name=path, progress=progress)
        try:
            response = await self._http.put("/files", params=params, content=content)
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(exc, self.base_url, self.timeout) from exc
        B.check_response(response)
        return B.write_message(response.content)

    async def create(self, path: str) -> str:
        return await self._send(B.create(path))

    async def mkdir(self, path: str, mode: str | int = "755", *, parents: bool = False) -> str:
        if not parents:
            return await self._send(B.mkdir(path, mode))
        message = ""
        for directory in B.all_dirs(path):
            try:
                info = await self.stat(directory)
            except NotFound:
                try:
                    message = await self._send(B.mkdir(directory, mode))
                except AlreadyExists:
                    pass
                continue
            if not info.is_dir:
                raise NotADirectory(f"not a directory: {directory}")
        return message

    async def rm(self, path: str, recursive: bool = False) -> str:
        return await self._send(B.rm(path, recursive))

    async def mv(self, old: str, new: str) -> str:
        return await self._send(B.mv(old, new))

    async def chmod(self, path: str, mode: int) -> str:
        return await self._send(B.chmod(path, mode))

    async def touch(self, path: str) -> str:
        """Set the modification time to now; create an empty file when ``path`` is missing."""
        return await self._send(B.touch(path, None))

    async def set_mtime(self, path: str, mtime_ns: int) -> str:
        """Set the modification time (nanoseconds since the epoch, sent exactly); NotSupported
        where the plugin stores no times."""
        return await self._send(B.touch(path, mtime_ns))

    async def mounts(self) -> list[dict[str, Any]]:
        return await self._send(B.mounts())

    async def mount(self, fstype: str, path: str, config: dict[str, Any] | None = None) -> str:
        return await self._send(B.mount(fstype, path, config))

    async def unmount(self, path: str) -> str:
        return await self._send(B.unmount(path))

    async def grep(
        self,
        path: str,
        pattern: str,
        recursive: bool = False,
        case_insensitive: bool = False,
        limit: int = 0,
    ) -> dict[str, Any]:
        return await self._send(B.grep(path, pattern, recursive, case_insensitive, limit))

    async def iter_grep(
        self,
        path: str,
        pattern: str,
        recursive: bool = False,
        case_insensitive: bool = False,
        limit: int = 0,
    ) -> AsyncIterator[dict[str, Any]]:
        body = B.grep_body(path, pattern, recursive, case_insensitive, True, limit)
        async with self._stream("POST", "/grep", json=body) as response:
            async for line in response.aiter_lines():
                obj = B.parse_ndjson_line(line)
                if obj is not None:
                    yield obj

    async def digest(self, path: str, algorithm: str = "xxh3") -> str:
        return await self._send(B.digest(path, algorithm))

    async def plugins(self) -> list[str]:
        return await self._send(B.plugins())

    async def load_plugin(self, library_path: str) -> dict[str, Any]:
        return await self._send(B.load_plugin(library_path))

    async def unload_plugin(self, library_path: str) -> str:
        return await self._send(B.unload_plugin(library_path))

    # Transfers.

    async def _ensure_parent(self, path: str) -> None:
        parents = B.parent_dirs(path)
        if parents:
            await self.mkdir(parents[-1], parents=True)

    async def upload(
        self,
        local_path: str | os.PathLike[str],
        remote_path: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        local = Path(local_path)
        if local.is_dir():
            if not recursive:
                raise IsADirectory(f"{local} is a directory (use recursive=True)")
            await self.mkdir(remote_path, parents=True)
            total = 0
            for child in sorted(local.iterdir()):
                total += await self.upload(
                    child, B.join_path(remote_path, child.name), recursive=True, progress=progress
                )
            return total
        await self._ensure_parent(remote_path)
        with open(local, "rb") as file:
            await self.write(remote_path, file, progress=progress)
            return file.tell()

    async def download(
        self,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        recursive: bool = False,
        resume: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        info = await self.stat(remote_path)
        local = Path(local_path)
        if info.is_dir:
            if not recursive:
                raise IsADirectory(f"{remote_path} is a directory (use recursive=True)")
            local.mkdir(parents=True, exist_ok=True)
            total = 0
            for entry in B.walkable(await self.ls(remote_path)):
                total += await self.download(
                    B.join_path(remote_path, entry.name),
                    local / entry.name,
                    recursive=True,
                    resume=resume,
                    progress=progress,
                )
            return total
        if already_downloaded(local, info, resume):
            return info.size
        partial = PartialDownload.plan(remote_path, local, info, resume)
        if not partial.needs_request:
            return partial.finish(info.size)
        params = B.read_params(remote_path)
        async with self._stream(
            "GET", "/files", params=params, headers=partial.headers()
        ) as response:
            with partial.receive(response.status_code, response.headers, progress) as sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
        return sink.done

    async def copy(
        self,
        src: str,
        dst: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        info = await self.stat(src)
        if info.is_dir:
            if not recursive:
                raise IsADirectory(f"{src} is a directory (use recursive=True)")
            await self.mkdir(dst, parents=True)
            total = 0
            for entry in B.walkable(await self.ls(src)):
                total += await self.copy(
                    B.join_path(src, entry.name),
                    B.join_path(dst, entry.name),
                    recursive=True,
                    progress=progress,
                )
            return total
        await self._ensure_parent(dst)
        copied = 0

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal copied
            async for chunk in self.iter_cat(src, chunk_size=None):
                copied += len(chunk)
                yield chunk

        reporter = None if progress is None else (lambda n, d, _t: progress(n, d, info.size))
        await self.write(dst, chunks(), progress=reporter)
        return copied


class AsyncRemoteFile:
    """Read-only async view of a remote file; each read is one ranged ``GET /files``."""

    def __init__(self, client: AsyncClient, path: str) -> None:
        self.name = path
        self._client = client
        self._pos = 0
        self.closed = False

    async def size(self) -> int:
        info = await self._client.stat(self.name)
        if info.is_dir:
            raise IsADirectory(f"is a directory: {self.name}")
        return info.size

    def tell(self) -> int:
        return self._pos

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = await self.size() + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    async def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        data = await self._client.cat(self.name, self._pos, size)
        self._pos += len(data)
        return data

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> AsyncRemoteFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
