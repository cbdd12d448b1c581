"""Open files (``/api/v1/handles``): the handle a plugin hands out, and the generic one every
plugin gets unless it does better.

A handle has a position of its own and reads and writes at offsets. :class:`FileAdapter` does
that over the plugin's ``read`` and ``write``, so a FUSE write of 128 KiB changes 128 KiB instead
of rewriting the whole file, and it honours what the file declares (``ReadEffect``): a consuming
file (a queue's ``dequeue``) is read once per handle and later reads are served from that copy;
an endless one (a live stream) gets its own stream reader, registered when the handle opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pfs.fs.base import CHUNK_SIZE, REPLACE, WRITE_LIMIT, WriteFlag, read_range
from pfs.fs.errors import (
    AlreadyExists,
    InvalidArgument,
    IsADirectory,
    NotFound,
    NotSupported,
    PermissionDenied,
)
from pfs.fs.fileinfo import FileInfo, ReadEffect

if TYPE_CHECKING:
    from pfs.fs.base import FileSystem

#: Longest a read of a live stream waits for data before it answers with no bytes (AGFS waits
#: 30 s; its Python SDK gives up on a request after 10 s).
LIVE_WAIT = 5.0


class OpenFlag(enum.IntFlag):
    """How a handle is opened; the values are the wire's (AGFS's server encoding)."""

    RDONLY = 0
    WRONLY = 1
    RDWR = 2
    APPEND = 8
    CREATE = 16
    EXCL = 32
    TRUNC = 64


#: The access-mode part of the flags (RDONLY, WRONLY or RDWR).
ACCESS = 3


def readable(flags: OpenFlag) -> bool:
    return flags & ACCESS != OpenFlag.WRONLY


def writable(flags: OpenFlag) -> bool:
    return flags & ACCESS in (OpenFlag.WRONLY, OpenFlag.RDWR)


def changes_data(flags: OpenFlag) -> bool:
    """Whether opening with ``flags`` may change the namespace or a file (so needs a writable
    mount and the write role)."""
    return writable(flags) or bool(flags & (OpenFlag.CREATE | OpenFlag.TRUNC))


class FileHandle:
    """One open file of a plugin: reads and writes at a position of its own.

    ``path`` is the plugin's (mount-relative) path. Plugins with handle semantics of their own
    subclass this (or :class:`FileAdapter`) and return it from ``FileSystem.open_handle``.
    Operations a handle cannot do raise NotSupported.
    """

    def __init__(self, path: str, flags: OpenFlag) -> None:
        self.path = path
        self.flags = flags
        self.position = 0

    @property
    def readable(self) -> bool:
        return readable(self.flags)

    @property
    def writable(self) -> bool:
        return writable(self.flags)

    def _check_readable(self) -> None:
        if not self.readable:
            raise PermissionDenied(f"read: {self.path}: handle not opened for reading")

    def _check_writable(self, op: str = "write") -> None:
        if not self.writable:
            raise PermissionDenied(f"{op}: {self.path}: handle not opened for writing")

    async def read(self, size: int, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes at ``offset`` (the position stays) or, without one, at the
        position (which advances). EOF is not an error: the answer is short or empty."""
        raise NotSupported(f"read: {self.path}: operation not supported by this handle")

    async def write(
        self, chunks: AsyncIterator[bytes], offset: int | None = None, limit: int = WRITE_LIMIT
    ) -> int:
        """Write the body ``chunks`` (at most ``limit`` bytes where it must be buffered) at
        ``offset`` or at the position (which advances); returns the bytes written."""
        raise NotSupported(f"write: {self.path}: operation not supported by this handle")

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (``whence`` 0: from the start, 1: from here, 2: from the end)."""
        raise NotSupported(f"seek: {self.path}: operation not supported by this handle")

    async def stream(self) -> AsyncIterator[bytes]:
        """The bytes from the position on, a piece at a time, until EOF."""
        while data := await self.read(CHUNK_SIZE):
            yield data

    async def sync(self) -> None:
        """Make written data durable; writes are applied when made, so by default nothing."""

    async def truncate(self, size: int) -> None:
        raise NotSupported(f"truncate: {self.path}: operation not supported by this handle")

    async def stat(self) -> FileInfo:
        raise NotSupported(f"stat: {self.path}: operation not supported by this handle")

    async def close(self) -> None:
        """Release what the handle holds; called once."""


class FileAdapter(FileHandle):
    """The generic handle over a plugin's ``read``/``write``/``stat`` (see the module docs).

    Open it with :meth:`open`, which applies the open flags. ``read_once`` makes every read of
    the handle come from one read of the whole file (the default for consuming files).
    """

    def __init__(
        self,
        fs: FileSystem,
        path: str,
        flags: OpenFlag,
        info: FileInfo,
        *,
        read_once: bool | None = None,
    ) -> None:
        super().__init__(path, flags)
        self.fs = fs
        self.read_once = (
            info.read_effect is ReadEffect.CONSUMES if read_once is None else read_once
        )
        self._copy: bytes | None = None
        #: The handle's own reader of an endless file, and the piece it is waiting for.
        self._live: AsyncIterator[bytes] | None = None
        self._next: asyncio.Task[bytes | None] | None = None
        self._rest = b""
        self._live_ended = False

    @classmethod
    async def open(
        cls,
        fs: FileSystem,
        path: str,
        flags: OpenFlag,
        mode: int = 0o644,
        *,
        read_once: bool | None = None,
    ) -> FileAdapter:
        """Open ``path`` of ``fs`` as ``open(2)`` would: CREATE makes a missing file (with
        ``mode``), EXCL with CREATE refuses an existing one, TRUNC empties it (with write access),
        directories are refused."""
        info = await _opened(fs, path, flags, mode)
        handle = cls(fs, path, flags, info, read_once=read_once)
        if handle.readable and info.read_effect is ReadEffect.ENDLESS:
            # Registered now, so the handle sees everything written after it opened; the first
            # piece is awaited at once, so the reader is running (and ``close`` ends it, where
            # closing a generator that never started would skip its clean-up).
            handle._live = await fs.open_stream(path)
            handle._next = asyncio.ensure_future(_next_piece(handle._live))
        return handle

    # -- reads -----------------------------------------------------------------------------

    async def read(self, size: int, offset: int | None = None) -> bytes:
        self._check_readable()
        at = self.position if offset is None else offset
        if self._live is not None:
            data = await self._read_live(size)
        elif self.read_once:
            if self._copy is None:
                self._copy = await self.fs.read(self.path)
            data = read_range(self._copy, at, size)
        else:
            data = await self.fs.read(self.path, at, size) if size else b""
        if offset is None:
            self.position = at + len(data)
        return data

    async def _read_live(self, size: int) -> bytes:
        """The next bytes of the handle's stream reader, waiting up to LIVE_WAIT for them; no
        bytes when none came (or the stream ended)."""
        if not self._rest and not self._live_ended:
            if self._next is None:
                self._next = asyncio.ensure_future(_next_piece(self._live))
            task = self._next
            # The wait may time out: the pending piece stays for the next read (cancelling it
            # would end the reader). ``close`` cancels it.
            done, _ = await asyncio.wait({task}, timeout=LIVE_WAIT)
            if not done:
                return b""
            if self._next is task:
                self._next = None
            piece = None if task.cancelled() else task.result()
            if piece is None:
                self._live_ended = True
            else:
                self._rest = piece
        data, self._rest = self._rest[:size], self._rest[size:]
        return data

    async def stream(self) -> AsyncIterator[bytes]:
        if self._live is None:
            async for data in super().stream():
                yield data
            return
        self._check_readable()
        while not self._live_ended:
            data = await self._read_live(4 * CHUNK_SIZE)
            if data:
                self.position += len(data)
                yield data

    # -- writes ----------------------------------------------------------------------------

    async def write(
        self, chunks: AsyncIterator[bytes], offset: int | None = None, limit: int = WRITE_LIMIT
    ) -> int:
        self._check_writable()
        counted = _Counted(chunks)
        if self.flags & OpenFlag.APPEND:
            await self.fs.write_stream(
                self.path, counted, 0, WriteFlag.CREATE | WriteFlag.APPEND, limit
            )
            if offset is None:
                self.position = (await self.fs.stat(self.path)).size
            return counted.total
        at = self.position if offset is None else offset
        await self.fs.write_stream(self.path, counted, at, WriteFlag.CREATE, limit)
        if offset is None:
            self.position = at + counted.total
        return counted.total

    async def truncate(self, size: int) -> None:
        self._check_writable("truncate")
        await _truncate(self.fs, self.path, size)
        self._copy = None

    # -- the rest --------------------------------------------------------------------------

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            base = 0
        elif whence == os.SEEK_CUR:
            base = self.position
        elif whence == os.SEEK_END:
            base = len(self._copy) if self._copy is not None else (await self.stat()).size
        else:
            raise InvalidArgument(f"seek: {self.path}: whence must be 0, 1 or 2, got {whence}")
        position = base + offset
        if position < 0:
            raise InvalidArgument(f"seek: {self.path}: position {position} is before the start")
        self.position = position
        return position

    async def stat(self) -> FileInfo:
        return await self.fs.stat(self.path)

    async def close(self) -> None:
        live, self._live = self._live, None
        self._live_ended = True
        if self._next is not None:
            self._next.cancel()
            with contextlib.suppress(BaseException):
                await self._next
            self._next = None
        if live is not None:
            close = getattr(live, "aclose", None)
            if close is not None:
                await close()


async def _next_piece(chunks: AsyncIterator[bytes] | None) -> bytes | None:
    """The next piece of ``chunks``; None at its end (a Task cannot carry StopAsyncIteration)."""
    if chunks is None:
        return None
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


class _Counted:
    """``chunks`` passed through, counting the bytes."""

    __slots__ = ("_chunks", "total")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.total = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.__anext__()
        self.total += len(chunk)
        return chunk


async def _opened(fs: FileSystem, path: str, flags: OpenFlag, mode: int) -> FileInfo:
    """Apply the open flags to ``path``; the file's info afterwards."""
    try:
        info = await fs.stat(path)
    except NotFound:
        if not flags & OpenFlag.CREATE:
            raise
        await _create(fs, path, mode)
        return await fs.stat(path)
    # O_EXCL without O_CREAT means nothing (POSIX leaves it undefined; Linux ignores it).
    if flags & OpenFlag.EXCL and flags & OpenFlag.CREATE:
        raise AlreadyExists(f"file already exists: {path}")
    if info.is_dir:
        raise IsADirectory(f"is a directory: {path}")
    if flags & OpenFlag.TRUNC and writable(flags) and info.size:
        # Streams and queues take it as the no-op it is for them (their ``truncate``).
        await _truncate(fs, path, 0)
        info.size = 0
    return info


async def _truncate(fs: FileSystem, path: str, size: int) -> None:
    try:
        await fs.truncate(path, size)
    except NotSupported:
        if size or not fs.random_write:
            raise
        await fs.write(path, b"", 0, REPLACE)  # emptying is a whole-file write


async def _create(fs: FileSystem, path: str, mode: int) -> None:
    try:
        await fs.create(path)
    except NotSupported:
        await fs.write(path, b"", 0, WriteFlag.CREATE | WriteFlag.EXCLUSIVE)
    if mode != 0o644:
        with contextlib.suppress(NotSupported):
            await fs.chmod(path, mode)
