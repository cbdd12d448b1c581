"""The blocking client: sends the calls described in ``_base`` and drives the flows of
``_flows`` over ``httpx.Client``."""

from __future__ import annotations

import io
import os
import ssl
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from pfs.client import _base as B
from pfs.client import _flows as flows
from pfs.client import _handles as H
from pfs.client._base import CHUNK_SIZE, Call, ProgressCallback, Write
from pfs.client._content import sync_content
from pfs.client._flows import Counted, Flow, Pipe, Receive, Request
from pfs.fs.fileinfo import FileInfo

T = TypeVar("T")


class Client:
    """A PFS server seen from Python, blocking.

    Args:
        base_url: ``http://host:port`` (``/api/v1`` is appended when missing); default from
            ``PFS_API_URL``, else ``http://localhost:8080``.
        token: bearer token; default from ``PFS_TOKEN``.
        timeout: seconds for connecting and for each network read/write of a plain request.
        stall_timeout: seconds a streamed answer may go without delivering a byte before
            :class:`StallTimeout` is raised (``None`` waits forever).
        transport: an ``httpx.BaseTransport`` (tests, Unix sockets).
        verify: for ``https://`` servers, the CA bundle (PEM path or ``ssl.SSLContext``) their
            certificate is checked with; default from ``PFS_CA_BUNDLE``, else the system's CAs;
            ``False`` checks nothing. An untrusted certificate raises :class:`TLSError`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        stall_timeout: float | None = 60.0,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | str | bool | None = None,
    ) -> None:
        self.base_url = B.resolve_base_url(base_url)
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=B.auth_headers(token),
            timeout=timeout,
            transport=transport,
            verify=B.tls_verify(verify),
        )

    # Plumbing: the only code that sends.

    def _send(self, call: Call[T], content: bytes | Iterator[bytes] | None = None) -> T:
        try:
            response = self._http.request(
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

    def _write(self, write: Write) -> str:
        content = sync_content(write.data, name=write.path, progress=write.progress)
        return self._send(write.call, content)

    @contextmanager
    def _stream(
        self, call: Call[Any], headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        timeout = httpx.Timeout(self.timeout, read=self.stall_timeout)
        url = B.call_url(self.base_url, call)
        try:
            with self._http.stream(
                call.method, url, json=call.json, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    B.check_response(response)
                yield response
        except httpx.HTTPError as exc:
            raise B.translate_transport_error(
                exc, self.base_url, self.stall_timeout, streaming=True
            ) from exc

    def _receive(self, receive: Receive) -> int:
        with (
            self._stream(receive.call, receive.headers) as response,
            receive.into(response.status_code, response.headers) as sink,
        ):
            for chunk in response.iter_bytes():
                sink.write(chunk)
        return sink.done

    def _pipe(self, pipe: Pipe) -> int:
        counted = Counted(self.iter_cat(pipe.source, chunk_size=None))
        self._write(B.write(pipe.target, counted, progress=pipe.progress))
        return counted.count

    def _perform(self, request: Request) -> Any:
        if isinstance(request, Call):
            return self._send(request)
        if isinstance(request, Write):
            return self._write(request)
        if isinstance(request, Receive):
            return self._receive(request)
        return self._pipe(request)

    def _run(self, flow: Flow[T]) -> T:
        """Drive ``flow``: perform each request it yields and hand it the answer or the error."""
        with closing(flow):
            step = flows.send(flow, None)
            while not isinstance(step, flows.Done):
                try:
                    answer = self._perform(step)
                except Exception as exc:
                    step = flows.throw(flow, exc)
                else:
                    step = flows.send(flow, answer)
            return step.value

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Endpoints.

    def health(self) -> dict[str, Any]:
        return self._send(B.health())

    def ls(self, path: str = "/") -> list[FileInfo]:
        return self._send(B.ls(path))

    def stat(self, path: str) -> FileInfo:
        return self._send(B.stat(path))

    def exists(self, path: str) -> bool:
        return self._run(flows.exists(path))

    def cat(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        return self._send(B.cat(path, offset, size))

    def iter_cat(
        self,
        path: str,
        offset: int = 0,
        size: int = -1,
        *,
        stream: bool = False,
        chunk_size: int | None = CHUNK_SIZE,
    ) -> Iterator[bytes]:
        """Read ``path`` in pieces of ``chunk_size`` (None: as they arrive); ``stream=True``
        follows a live stream (``?stream=true``).

        The request is sent on the first ``next()``.
        """
        call = B.follow(path) if stream else B.cat(path, offset, size)
        with self._stream(call) as response:
            # A live stream hands over each chunk as it arrives instead of filling chunk_size.
            yield from response.iter_bytes(None if stream else chunk_size)

    def open(
        self, path: str, mode: str = "rb", *, buffer_size: int = CHUNK_SIZE
    ) -> io.BufferedReader:
        """A read-only, seekable file whose reads are ``offset``/``size`` range requests."""
        if mode not in ("rb", "r"):
            raise ValueError(f"unsupported mode {mode!r}: only 'rb' is supported")
        size = self._run(flows.file_size(path))
        return io.BufferedReader(RemoteFile(self, path, size), buffer_size)

    def write(
        self,
        path: str,
        data: Any,
        *,
        offset: int | None = None,
        flags: Any = None,
        progress: ProgressCallback | None = None,
        if_match: str | None = None,
    ) -> str:
        """Write ``data`` (bytes, str, a binary file or an iterable of bytes) to ``path``.

        Without ``offset``/``flags`` the file is created or replaced. Returns the server's message
        (e.g. a queue message id). Files and iterables are streamed chunk by chunk. With
        ``if_match`` (a tag from :meth:`etag`) the write applies only while the file still has
        that tag, else PreconditionFailed and nothing is written.
        """
        return self._write(B.write(path, data, offset, flags, progress, if_match))

    def create(self, path: str) -> str:
        return self._send(B.create(path))

    def mkdir(self, path: str, mode: str | int = "755", *, parents: bool = False) -> str:
        """Create a directory; ``parents=True`` also creates ancestors and accepts existing ones."""
        if not parents:
            return self._send(B.mkdir(path, mode))
        return self._run(flows.mkdir_parents(path, mode))

    def rm(self, path: str, recursive: bool = False, *, if_match: str | None = None) -> str:
        """Remove ``path``; with ``if_match``, only while its ETag is still that one (else
        PreconditionFailed, nothing removed)."""
        return self._send(B.rm(path, recursive, if_match))

    def etag(self, path: str) -> str:
        """The file's ETag (``HEAD /files``: from stat, the file is not read), for
        ``write(..., if_match=)`` and ``rm(..., if_match=)``. Empty for a file whose read has an
        effect (a queue's ``dequeue``): such a file has no tag."""
        return self._send(B.etag(path))

    def mv(self, old: str, new: str) -> str:
        return self._send(B.mv(old, new))

    def chmod(self, path: str, mode: int) -> str:
        return self._send(B.chmod(path, mode))

    def touch(self, path: str) -> str:
        """Set the modification time to now; create an empty file when ``path`` is missing."""
        return self._send(B.touch(path, None))

    def set_mtime(self, path: str, mtime_ns: int) -> str:
        """Set the modification time (nanoseconds since the epoch, sent exactly); NotSupported
        where the plugin stores no times."""
        return self._send(B.touch(path, mtime_ns))

    def truncate(self, path: str, size: int) -> str:
        """Cut ``path`` to ``size`` bytes or extend it with zero bytes (a no-op on queues and
        streams); NotSupported where the plugin cannot."""
        return self._send(B.truncate(path, size))

    def symlink(self, target: str, link: str) -> str:
        """Make ``link`` a symbolic link to ``target`` (absolute, or relative to the link's
        directory), in the order of ``os.symlink``."""
        return self._send(B.symlink(target, link))

    def readlink(self, link: str) -> str:
        """The target of the symbolic link ``link``; NotFound when it is not one."""
        return self._send(B.readlink(link))

    def mounts(self) -> list[dict[str, Any]]:
        return self._send(B.mounts())

    def mount(self, fstype: str, path: str, config: dict[str, Any] | None = None) -> str:
        return self._send(B.mount(fstype, path, config))

    def unmount(self, path: str) -> str:
        return self._send(B.unmount(path))

    def grep(
        self,
        path: str,
        pattern: str,
        recursive: bool = False,
        case_insensitive: bool = False,
        limit: int = 0,
    ) -> dict[str, Any]:
        """``{"matches": [{"file", "line", "content"}, ...], "count": n}``; at most ``limit``
        matches when it is > 0."""
        return self._send(B.grep(path, pattern, recursive, case_insensitive, limit))

    def iter_grep(
        self,
        path: str,
        pattern: str,
        recursive: bool = False,
        case_insensitive: bool = False,
        limit: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Matches as the server finds them, then the ``{"type": "summary", "count"}`` line."""
        call = B.grep_stream(path, pattern, recursive, case_insensitive, limit)
        with self._stream(call) as response:
            for line in response.iter_lines():
                obj = B.parse_ndjson_line(line)
                if obj is not None:
                    yield obj

    def watch(self, path: str = "/", recursive: bool = False) -> Iterator[dict[str, Any]]:
        """The changes under ``path`` as they happen: first ``{"type": "ready"}`` (the watch is
        in place), then one dict per event (``type``, ``path``, ``newPath``, ``stat``, ``id``);
        ``{"type": "overflow"}`` says events were lost. Runs until the caller stops iterating
        (close the iterator to end the watch at once)."""
        reader = B.EventReader()
        with self._stream(B.watch(path, recursive)) as response:
            for line in response.iter_lines():
                event = reader.feed(line)
                if event is not None:
                    yield event

    def dequeue(self, queue: str, wait: float = 0) -> dict[str, Any]:
        """Take a queue's oldest message (``{"id", "data", "timestamp"}``), waiting up to
        ``wait`` seconds (at most 60) for one; ``{}`` when none came."""
        return self._send(B.take(queue, "dequeue", wait))

    def peek(self, queue: str, wait: float = 0) -> dict[str, Any]:
        """The oldest message without taking it, waiting like :meth:`dequeue`."""
        return self._send(B.take(queue, "peek", wait))

    def digest(self, path: str, algorithm: str = "xxh3") -> str:
        return self._send(B.digest(path, algorithm))

    def plugins(self) -> list[str]:
        return self._send(B.plugins())

    def load_plugin(self, library_path: str) -> dict[str, Any]:
        return self._send(B.load_plugin(library_path))

    def unload_plugin(self, library_path: str) -> str:
        return self._send(B.unload_plugin(library_path))

    # Handles.

    def open_handle(
        self, path: str, flags: int | str = "r", mode: int = 0o644, lease: int = 60
    ) -> RemoteHandle:
        """Open ``path`` on the server as a handle with a position of its own (``/handles``):
        ``flags`` as ``open()`` modes (``"r"``, ``"r+"``, ``"w"``, ``"a"``, ``"x"``…) or the
        server's bitmask (``pfs.fs.OpenFlag``); ``mode`` for a created file; the handle closes
        by itself after ``lease`` idle seconds (any operation or ``renew`` extends it)."""
        opened = self._send(H.open_handle(path, H.open_flags(flags), mode, lease))
        return RemoteHandle(self, opened)

    def handles(self) -> list[dict[str, Any]]:
        """The server's open handles (``id``, path, flags, lease, position …)."""
        return self._send(H.handles())

    # Transfers.

    def upload(
        self,
        local_path: str | os.PathLike[str],
        remote_path: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Copy a local file (or tree, with ``recursive``) to ``remote_path``; returns bytes."""
        return self._run(flows.upload(Path(local_path), remote_path, recursive, progress))

    def download(
        self,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        recursive: bool = False,
        resume: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Copy a remote file (or tree, with ``recursive``) to ``local_path``; returns the bytes
        of the downloaded files.

        A file is written to ``.NAME.pfs-partial`` and renamed to ``NAME`` when complete, so an
        interrupted download never looks complete. ``resume`` continues such a partial file
        with a ranged request (and keeps targets that already have the remote size). A tree
        skips files whose read has an effect and write-only files (see ``walkable``).
        """
        flow = flows.download(remote_path, Path(local_path), recursive, resume, progress)
        return self._run(flow)

    def copy(
        self,
        src: str,
        dst: str,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Copy within PFS on the server (``POST /copy``: no byte through this client), or,
        with a server without it, streaming the bytes through this client; returns bytes
        copied. A tree skips the files ``download`` skips. ``progress`` is called once at the
        end of a server-side copy."""
        return self._run(flows.copy(src, dst, recursive, progress))


class RemoteFile(io.RawIOBase):
    """Unbuffered read-only view of a remote file; each read is one ranged ``GET /files``."""

    def __init__(self, client: Client, path: str, size: int) -> None:
        super().__init__()
        self.name = path
        self._client = client
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._client._run(flows.seek(self.name, self._pos, offset, whence, self._size))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._client.cat(self.name, self._pos, len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        data = self._client.cat(self.name, self._pos)
        self._pos += len(data)
        return data


class RemoteHandle:
    """An open handle on the server (:meth:`Client.open_handle`); a context manager that closes
    it. ``read``/``write`` without ``offset`` use and advance the handle's position."""

    def __init__(self, client: Client, opened: dict[str, Any]) -> None:
        self._client = client
        self.id: int = opened["handle_id"]
        self.path: str = opened["path"]
        self.flags: int = opened["flags"]
        self.lease: int = opened["lease"]
        self.closed = False

    def read(self, size: int = -1, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes (``-1``: to the end); short or empty at EOF."""
        return self._client._run(flows.read_handle(self.id, size, offset))

    def write(self, data: bytes | str, offset: int | None = None) -> int:
        if isinstance(data, str):
            data = data.encode()
        return self._client._send(H.write(self.id, offset), bytes(data))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._client._send(H.seek(self.id, offset, whence))

    def tell(self) -> int:
        return self.seek(0, io.SEEK_CUR)

    def sync(self) -> None:
        self._client._send(H.sync(self.id))

    def stat(self) -> FileInfo:
        return self._client._send(H.stat(self.id))

    def info(self) -> dict[str, Any]:
        return self._client._send(H.info(self.id))

    def renew(self, lease: int | None = None) -> dict[str, Any]:
        return self._client._send(H.renew(self.id, lease))

    def truncate(self, size: int) -> None:
        self._client._send(H.truncate(self.id, size))

    def iter_stream(self) -> Iterator[bytes]:
        """The bytes from the position on as the server sends them (a live stream: as they
        are written)."""
        with self._client._stream(H.stream(self.id)) as response:
            yield from response.iter_bytes()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._client._send(H.close(self.id))

    def __enter__(self) -> RemoteHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
