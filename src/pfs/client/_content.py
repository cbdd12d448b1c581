"""Turn what callers pass to ``write`` into an httpx request body, without buffering it.

bytes and str go out with a Content-Length; files and iterators go out chunked, one chunk at a
time, so a 10 GiB upload holds one chunk in memory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from pfs.client._base import CHUNK_SIZE, FILE_CHUNK_SIZE, ProgressCallback

WriteData = bytes | bytearray | memoryview | str | Any


def known_size(data: Any) -> int | None:
    """Bytes ``data`` will send, when that is known without consuming it."""
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    if isinstance(data, str):
        return len(data.encode())
    fileno = getattr(data, "fileno", None)
    if fileno is not None:
        try:
            info = os.fstat(fileno())
        except (OSError, ValueError):
            return None
        if info.st_mode & 0o170000 == 0o100000:  # regular file: size minus what was read already
            try:
                position: int = data.tell()
                return max(info.st_size - position, 0)
            except (OSError, ValueError):
                return info.st_size
    return None


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    return bytes(chunk)


def _file_chunks(file: Any, chunk_size: int) -> Iterator[bytes]:
    read = getattr(file, "read1", None) or file.read
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return
        yield _as_bytes(chunk)


def _counted(
    chunks: Iterable[bytes], name: str, total: int | None, progress: ProgressCallback
) -> Iterator[bytes]:
    done = 0
    progress(name, 0, total)
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        progress(name, done, total)


def _pieces(data: bytes, chunk_size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])


def sync_content(
    data: Any,
    *,
    name: str = "",
    progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> bytes | Iterator[bytes]:
    """A body for ``httpx.Client``: bytes as is, anything else as an iterator of chunks."""
    if isinstance(data, AsyncIterable) and not isinstance(data, Iterable):
        raise TypeError("Client.write cannot send an async iterable; use AsyncClient")
    total = known_size(data)
    if isinstance(data, bytes | bytearray | memoryview | str):
        body = _as_bytes(data)
        if progress is None:
            return body
        chunks: Iterator[bytes] = _pieces(body, chunk_size)
    elif hasattr(data, "read"):
        chunks = _file_chunks(data, FILE_CHUNK_SIZE)
    elif isinstance(data, Iterable):
        chunks = (_as_bytes(chunk) for chunk in data)
    else:
        raise TypeError(
            f"cannot write {type(data).__name__}: expected bytes, str, file or iterable"
        )
    return _counted(chunks, name, total, progress) if progress else chunks


async def _async_file_chunks(file: Any, chunk_size: int) -> AsyncIterator[bytes]:
    read = getattr(file, "read1", None) or file.read
    while True:
        # A file may be a pipe or slow disk: read off the event loop.
        chunk = await asyncio.to_thread(read, chunk_size)
        if not chunk:
            return
        yield _as_bytes(chunk)


async def _async_iter(chunks: Iterable[Any]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield _as_bytes(chunk)


async def _async_bytes(chunks: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield _as_bytes(chunk)


async def _async_counted(
    chunks: AsyncIterable[bytes], name: str, total: int | None, progress: ProgressCallback
) -> AsyncIterator[bytes]:
    done = 0
    progress(name, 0, total)
    async for chunk in chunks:
        yield chunk
        done += len(chunk)
        progress(name, done, total)


def async_content(
    data: Any,
    *,
    name: str = "",
    progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> bytes | AsyncIterator[bytes]:
    """A body for ``httpx.AsyncClient``: bytes as is, anything else as an async iterator."""
    total = known_size(data)
    if isinstance(data, bytes | bytearray | memoryview | str):
        body = _as_bytes(data)
        if progress is None:
            return body
        chunks: AsyncIterator[bytes] = _async_iter(_pieces(body, chunk_size))
    elif hasattr(data, "read"):
        chunks = _async_file_chunks(data, FILE_CHUNK_SIZE)
    elif isinstance(data, AsyncIterable):
        chunks = _async_bytes(data)
    elif isinstance(data, Iterable):
        chunks = _async_iter(data)
    else:
        raise TypeError(
            f"cannot write {type(data).__name__}: expected bytes, str, file or iterable"
        )
    return _async_counted(chunks, name, total, progress) if progress else chunks
