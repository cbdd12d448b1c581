"""The asyncio client: ``_sync.Client``'s twin, method for method, over ``httpx.AsyncClient``.

Only the sending is twinned; multi-step operations are the shared flows of ``_flows``."""

from __future__ import annotations

import io
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import httpx

from pfs.client import _base as B
from pfs.client import _flows as flows
from pfs.client import _handles as H
from pfs.client._base import CHUNK_SIZE, Call, ProgressCallback, Write
from pfs.client._content import async_content
from pfs.client._flows import Counted, Flow, Pipe, Receive, Request
from pfs.fs.fileinfo import FileInfo

T = TypeVar("T")


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
        verify: ssl.SSLContext | str | bool | None = None,
    ) -> None:
        self.base_url = B.resolve_base_url(base_url)
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=B.auth_headers(token),
            timeout=timeout,
            transport=transport,
            verify=B.tls_verify(verify),
        )

    # Plumbing: the only code that sends.

    async def _send(self, call: Call[T], content: bytes | AsyncIterator[bytes] | None = None) -> T:
        try:
            response = await self._http.request(
                call.method,
                B.call_url(self.base_url, call),
                json=call.json,
                content=content,
                headers=call.headers,
                timeout=B.timeout_of(call, self.timeout) or self._http.timeout,
            )
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(exc, self.base_url, self.timeout) from exc
        B.check_response(response, call.optional)
        return call.answer(response)

    async def _write(self, write: Write) -> str:
        content = async_content(write.data, name=write.path, progress=write.progress)
        return await self._send(write.call, content)

    @asynccontextmanager
    async def _stream(
        self, call: Call[Any], headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        timeout = httpx.Timeout(self.timeout, read=self.stall_timeout)
        url = B.call_url(self.base_url, call)
        try:
            async with self._http.stream(
                call.method, url, json=call.json, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    B.check_response(response)
                yield response
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(
                exc, self.base_url, self.stall_timeout, streaming=True
            ) from exc

    async def _receive(self, receive: Receive) -> int:
        async with self._stream(receive.call, receive.headers) as response:
            with receive.into(response.status_code, response.headers) as sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
        return sink.done

    async def _pipe(self, pipe: Pipe) -> int:
        counted = Counted(self.iter_cat(pipe.source, chunk_size=None))
        await self._write(B.write(pipe.target, counted, progress=pipe.progress))
        return counted.count

    async def _perform(self, request: Request) -> Any:
        if isinstance(request, Call):
            return await self._send(request)
        if isinstance(request, Write):
            return await self._write(request)
        if isinstance(request, Receive):
            return await self._receive(request)
        return await self._pipe(request)

    async def _run(self, flow: Flow[T]) -> T:
        """Drive ``flow``: perform each request it yields and hand it the answer or the error."""
        with closing(flow):
            step = flows.send(flow, None)
            while not isinstance(step, flows.Done):
                try:
                    answer = await self._perform(step)
                except Exception as exc:
                    step = flows.throw(flow, exc)
                else:
                    step = flows.send(flow, answer)
            return step.value

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
        return await self._run(flows.exists(path))

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
        call = B.follow(path) if stream else B.cat(path, offset, size)
        async with self._stream(call) as response:
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
        if_match: str | None = None,
    ) -> str:
        return await self._write(B.write(path, data, offset, flags, progress, if_match))

    async def create(self, path: str) -> str:
        return await self._send(B.create(path))

    async def mkdir(self, path: str, mode: str | int = "755", *, parents: bool = False) -> str:
        if not parents:
            return await self._send(B.mkdir(path, mode))
        return await self._run(flows.mkdir_parents(path, mode))

    async def rm(self, path: str, recursive: bool = False, *, if_match: str | None = None) -> str:
        """Remove ``path``; with ``if_match``, only while its ETag is still that one (else
        PreconditionFailed, nothing removed)."""
        return await self._send(B.rm(path, recursive, if_match))

    async def etag(self, path: str) -> str:
        """The file's ETag (``HEAD /files``: from stat, the file is not read), for
        ``write(..., if_match=)`` and ``rm(..., if_match=)``. Empty for a file whose read has an
        effect (a queue's ``dequeue``): such a file has no tag."""
        return await self._send(B.etag(path))

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

    async def truncate(self, path: str, size: int) -> str:
        """Cut ``path`` to ``size`` bytes or extend it with zero bytes (a no-op on queues and
        streams); NotSupported where the plugin cannot."""
        return await self._send(B.truncate(path, size))

    async def symlink(self, target: str, link: str) -> str:
        """Make ``link`` a symbolic link to ``target`` (absolute, or relative to the link's
        directory), in the order of ``os.symlink``."""
        return await self._send(B.symlink(target, link))

    async def readlink(self, link: str) -> str:
        """The target of the symbolic link ``link``; NotFound when it is not one."""
        return await self._send(B.readlink(link))

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
        call = B.grep_stream(path, pattern, recursive, case_insensitive, limit)
        async with self._stream(call) as response:
            async for line in response.aiter_lines():
                obj = B.parse_ndjson_line(line)
                if obj is not None:
                    yield obj

    async def watch(
        self, path: str = "/", recursive: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        reader = B.EventReader()
        async with self._stream(B.watch(path, recursive)) as response:
            async for line in response.aiter_lines():
                event = reader.feed(line)
                if event is not None:
                    yield event

    async def dequeue(self, queue: str, wait: float = 0) -> dict[str, Any]:
        return await self._send(B.take(queue, "dequeue", wait))

    async def peek(self, queue: str, wait: float = 0) -> dict[str, Any]:
        return await self._send(B.take(queue, "peek", wait))

    async def digest(self, path: str, algorithm: str = "xxh3") -> str:
        return await self._send(B.digest(path, algorithm))

    async def plugins(self) -> list[str]:
        return await self._send(B.plugins())

    async def load_plugin(self, library_path: str) -> dict[str, Any]:
        return await self._send(B.load_plugin(library_path))

    async def unload_plugin(self, library_path: str) -> str:
        return await self._send(B.unload_plugin(library_path))

    # Transfers.

    # Handles.

    async def open_handle(
        self, path: str, flags: int | str = "r", mode: int = 0o644, lease: int = 60
    ) -> AsyncRemoteHandle:
        """See :meth:`Client.open_handle`."""
        opened = await self._send(H.open_handle(path, H.open_flags(flags), mode, lease))
        return AsyncRemoteHandle(self, opened)

    async def handles(self) -> list[dict[str, Any]]:
        return await self._send(H.handles())

    async def upload(
        self,
        local_path: str | os.PathLike[str],
        remote_path: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        return await self._run(flows.upload(Path(local_path), remote_path, recursive, progress))

    async def download(
        self,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        recursive: bool = False,
        resume: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        flow = flows.download(remote_path, Path(local_path), recursive, resume, progress)
        return await self._run(flow)

    async def copy(
        self,
        src: str,
        dst: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        return await self._run(flows.copy(src, dst, recursive, progress))


class AsyncRemoteFile:
    """Read-only async view of a remote file; each read is one ranged ``GET /files``."""

    def __init__(self, client: AsyncClient, path: str) -> None:
        self.name = path
        self._client = client
        self._pos = 0
        self.closed = False

    async def size(self) -> int:
        return await self._client._run(flows.file_size(self.name))

    def tell(self) -> int:
        return self._pos

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = await self._client._run(flows.seek(self.name, self._pos, offset, whence))
        return self._pos

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


class AsyncRemoteHandle:
    """:class:`RemoteHandle`'s twin for :class:`AsyncClient`, awaited."""

    def __init__(self, client: AsyncClient, opened: dict[str, Any]) -> None:
        self._client = client
        self.id: int = opened["handle_id"]
        self.path: str = opened["path"]
        self.flags: int = opened["flags"]
        self.lease: int = opened["lease"]
        self.closed = False

    async def read(self, size: int = -1, offset: int | None = None) -> bytes:
        return await self._client._run(flows.read_handle(self.id, size, offset))

    async def write(self, data: bytes | str, offset: int | None = None) -> int:
        if isinstance(data, str):
            data = data.encode()
        return await self._client._send(H.write(self.id, offset), bytes(data))

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return await self._client._send(H.seek(self.id, offset, whence))

    async def tell(self) -> int:
        return await self.seek(0, io.SEEK_CUR)

    async def sync(self) -> None:
        await self._client._send(H.sync(self.id))

    async def stat(self) -> FileInfo:
        return await self._client._send(H.stat(self.id))

    async def info(self) -> dict[str, Any]:
        return await self._client._send(H.info(self.id))

    async def renew(self, lease: int | None = None) -> dict[str, Any]:
        return await self._client._send(H.renew(self.id, lease))

    async def truncate(self, size: int) -> None:
        await self._client._send(H.truncate(self.id, size))

    async def iter_stream(self) -> AsyncIterator[bytes]:
        async with self._client._stream(H.stream(self.id)) as response:
            async for chunk in response.aiter_bytes():
                yield chunk

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._client._send(H.close(self.id))

    async def __aenter__(self) -> AsyncRemoteHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
