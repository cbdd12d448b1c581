"""The SDK's multi-step operations, written once for both clients (sans I/O).

A flow is a generator, as httpx writes its auth flows: it yields a description of the next
request (a :class:`~pfs.client._base.Call`, a :class:`~pfs.client._base.Write`, a
:class:`Receive` or a :class:`Pipe`) and receives the answer, or has the typed error thrown in
where the request failed. ``Client._run`` and ``AsyncClient._run`` drive it; only they send.
Bodies stay streamed: a flow hands over the file or the remote source, never its bytes.
"""

from __future__ import annotations

import io
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial as bind
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

from pfs.client import _base as B
from pfs.client import _handles as H
from pfs.client._base import Call, ProgressCallback, Write
from pfs.client._download import PartialDownload, Sink, already_downloaded
from pfs.fs.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound
from pfs.fs.fileinfo import FileInfo

T = TypeVar("T")


@dataclass(slots=True)
class Receive:
    """Stream the answer to ``call`` (sent with ``headers``) into the sink ``into`` opens from
    the answer's status and headers; the answer is the sink's final byte count."""

    call: Call[bytes]
    headers: dict[str, str]
    into: Callable[[int, Mapping[str, str]], AbstractContextManager[Sink]]


@dataclass(slots=True)
class Pipe:
    """Write the remote file ``source`` to ``target``, its bytes streamed through the client;
    the answer is the number of bytes piped."""

    source: str
    target: str
    progress: ProgressCallback | None


Request: TypeAlias = Call[Any] | Write | Receive | Pipe
Flow: TypeAlias = Generator[Request, Any, T]


@dataclass(slots=True)
class Done(Generic[T]):
    """A flow's result, once it stopped asking."""

    value: T


def send(flow: Flow[T], answer: Any) -> Request | Done[T]:
    """Hand ``answer`` to ``flow`` (None to start it); its next request, or its result."""
    try:
        return flow.send(answer)
    except StopIteration as stop:
        return Done(stop.value)


def throw(flow: Flow[T], error: Exception) -> Request | Done[T]:
    """Raise ``error`` inside ``flow`` where it waits; its next request, or its result."""
    try:
        return flow.throw(error)
    except StopIteration as stop:
        return Done(stop.value)


class Counted:
    """Chunks of a sync or async iterable, counted as they pass through."""

    def __init__(self, chunks: Iterable[bytes] | AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._chunks, Iterable)
        for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._chunks, AsyncIterable)
        async for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk


# The flows.  Names follow the client methods.


def exists(path: str) -> Flow[bool]:
    try:
        yield B.stat(path)
    except NotFound:
        return False
    return True


def file_size(path: str) -> Flow[int]:
    """The size of the file at ``path``; IsADirectory for a directory."""
    info: FileInfo = yield B.stat(path)
    if info.is_dir:
        raise IsADirectory(f"is a directory: {path}")
    return info.size


def seek(path: str, pos: int, offset: int, whence: int, size: int | None = None) -> Flow[int]:
    """The position a file at ``pos`` moves to; ``size`` is asked only for SEEK_END, when not
    known."""
    if whence == io.SEEK_SET:
        target = offset
    elif whence == io.SEEK_CUR:
        target = pos + offset
    elif whence == io.SEEK_END:
        end = size if size is not None else (yield from file_size(path))
        target = end + offset
    else:
        raise ValueError(f"invalid whence {whence}")
    if target < 0:
        raise ValueError(f"negative seek position {target}")
    return target


def read_handle(handle_id: int, size: int, offset: int | None) -> Flow[bytes]:
    """Up to ``size`` bytes of a handle (``size < 0``: to the end) at ``offset``, else at its
    position; asked for in pieces of ``READ_PIECE``, ending early at an empty answer (EOF, or
    a live stream with nothing new)."""
    if 0 <= size <= H.READ_PIECE:
        data: bytes = yield H.read(handle_id, size, offset)
        return data
    parts: list[bytes] = []
    done = 0
    while size < 0 or done < size:
        want = H.READ_PIECE if size < 0 else min(H.READ_PIECE, size - done)
        piece: bytes = yield H.read(handle_id, want, None if offset is None else offset + done)
        if not piece:
            break
        parts.append(piece)
        done += len(piece)
    return b"".join(parts)


def mkdir_parents(path: str, mode: str | int = "755") -> Flow[str]:
    """``mkdir -p``: create ``path`` and its ancestors, accepting existing directories."""
    message = ""
    for directory in B.all_dirs(path):
        try:
            info: FileInfo = yield B.stat(directory)
        except NotFound:
            try:
                message = yield B.mkdir(directory, mode)
            except AlreadyExists:
                pass
            continue
        if not info.is_dir:
            raise NotADirectory(f"not a directory: {directory}")
    return message


def _ensure_parent(path: str) -> Flow[None]:
    parents = B.parent_dirs(path)
    if parents:
        yield from mkdir_parents(parents[-1])


def upload(
    local: Path, remote_path: str, recursive: bool, progress: ProgressCallback | None
) -> Flow[int]:
    if local.is_dir():
        if not recursive:
            raise IsADirectory(f"{local} is a directory (use recursive=True)")
        yield from mkdir_parents(remote_path)
        total = 0
        for child in sorted(local.iterdir()):
            remote_child = B.join_path(remote_path, child.name)
            total += yield from upload(child, remote_child, True, progress)
        return total
    yield from _ensure_parent(remote_path)
    with open(local, "rb") as file:
        yield B.write(remote_path, file, progress=progress)
        return file.tell()


def download(
    remote_path: str, local: Path, recursive: bool, resume: bool, progress: ProgressCallback | None
) -> Flow[int]:
    info: FileInfo = yield B.stat(remote_path)
    if info.is_dir:
        if not recursive:
            raise IsADirectory(f"{remote_path} is a directory (use recursive=True)")
        local.mkdir(parents=True, exist_ok=True)
        total = 0
        for entry in B.walkable((yield B.ls(remote_path))):
            remote_child = B.join_path(remote_path, entry.name)
            total += yield from download(remote_child, local / entry.name, True, resume, progress)
        return total
    if already_downloaded(local, info, resume):
        return info.size
    partial = PartialDownload.plan(remote_path, local, info, resume)
    if not partial.needs_request:
        return partial.finish(info.size)
    into = bind(partial.receive, progress=progress)
    done: int = yield Receive(B.cat(remote_path), partial.headers(), into)
    return done


def copy(src: str, dst: str, recursive: bool, progress: ProgressCallback | None) -> Flow[int]:
    """``POST /copy`` (the server streams the bytes itself), else, on a server without it, the
    bytes piped through this client."""
    info: FileInfo = yield B.stat(src)
    if info.is_dir and not recursive:
        raise IsADirectory(f"{src} is a directory (use recursive=True)")
    yield from _ensure_parent(dst)
    try:
        copied: int = yield B.server_copy(src, dst, recursive)
    except B.EndpointMissing:
        return (yield from _piped_copy(src, dst, info, progress))
    if progress is not None:
        progress(dst, copied, copied)
    return copied


def _piped_copy(
    src: str, dst: str, info: FileInfo, progress: ProgressCallback | None
) -> Flow[int]:
    if info.is_dir:
        yield from mkdir_parents(dst)
        total = 0
        for entry in B.walkable((yield B.ls(src))):
            src_child, dst_child = B.join_path(src, entry.name), B.join_path(dst, entry.name)
            total += yield from _piped_copy(src_child, dst_child, entry, progress)
        return total
    copied: int = yield Pipe(src, dst, _with_total(progress, info.size))
    return copied


def _with_total(progress: ProgressCallback | None, total: int) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda name, done, _unknown: progress(name, done, total)
