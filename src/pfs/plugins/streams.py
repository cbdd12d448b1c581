"""The live-stream core of streamfs and streamrotatefs (plugins never import each other, so the
part they share lives here).

Writers PUT bytes into ``/<name>`` (many short PUTs or one long chunked PUT); every reader of
``GET ?stream=true`` first gets the stream's recent history from a ring buffer, then live data.
Memory is bounded per stream: the ring holds ``ring_buffer_size`` bytes and each reader's queue
``channel_buffer_size`` bytes. A reader that still has a full queue unread when more data arrives
is cut off at once (its queue is freed and its response ends without the final chunk, so the
client sees a truncated transfer); it never slows the writer or the other readers.

:class:`LiveStreams` is the whole flat stream namespace; a plugin subclasses it, sets
``fstype``, ``config_schema`` (with :func:`buffer_fields`) and ``readme``, and may override
:meth:`LiveStreams.publish` (what a write does with each piece) and :meth:`LiveStreams.info`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from pfs.fs import (
    CHUNK_SIZE,
    REPLACE,
    WRITE_LIMIT,
    AlreadyExists,
    Field,
    FileAdapter,
    FileHandle,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    NotSupported,
    OpenFlag,
    PermissionDenied,
    ReadEffect,
    Unavailable,
    WriteFlag,
    read_range,
)

log = logging.getLogger("pfs.plugins.streams")

DEFAULT_BUFFER = 6 << 20
#: Allowed buffer sizes: each reader and each stream may hold this much in memory.
MIN_BUFFER, MAX_BUFFER = 1 << 10, 1 << 30
#: Writing a stream's name to this file ends the stream (readers drain, then see the end).
CLOSE_FILE = "/.close"
#: A reader is handed at most this much in one piece (queued chunks are joined up to it).
BATCH_BYTES = 4 * CHUNK_SIZE


class Reader:
    """One ``GET ?stream=true`` client: a bounded queue of chunks the stream pushes into.

    The queue starts with the history (chunks shared with the ring, so they cost no extra
    memory); only live data counts against ``limit``, so a late joiner of a busy stream is not
    cut off merely for having a full history still to read.
    """

    __slots__ = ("id", "limit", "chunks", "queued", "history", "wakeup", "ended", "overrun")

    def __init__(self, reader_id: str, limit: int, history: list[bytes]) -> None:
        self.id = reader_id
        self.limit = limit
        self.chunks: deque[bytes] = deque(history)
        self.history = sum(map(len, history))
        self.queued = self.history
        self.wakeup = asyncio.Event()
        self.ended = False
        self.overrun = False

    def offer(self, chunks: list[bytes], size: int) -> bool:
        """Queue one write's ``chunks``; False (and the queue freed) when a full channel of live
        data is still unread. One write always fits, so the live part of the queue holds at most
        the limit plus one write (≤ 1 MiB for a PUT, one received piece for a chunked PUT)."""
        if self.queued - self.history >= self.limit:
            self.overrun = True
            self.chunks.clear()
            self.queued = self.history = 0
            self.wakeup.set()
            return False
        self.chunks.extend(chunks)
        self.queued += size
        self.wakeup.set()
        return True

    def end(self) -> None:
        self.ended = True
        self.wakeup.set()

    def take(self) -> bytes:
        """Queued chunks joined up to ``BATCH_BYTES`` (at least one chunk)."""
        parts = [self.chunks.popleft()]
        size = len(parts[0])
        while self.chunks and size + len(self.chunks[0]) <= BATCH_BYTES:
            chunk = self.chunks.popleft()
            parts.append(chunk)
            size += len(chunk)
        self.queued -= size
        self.history = max(self.history - size, 0)
        return parts[0] if len(parts) == 1 else b"".join(parts)


class Stream:
    """History ring, counters and the readers of one stream key.

    Everything runs on the event loop without awaiting, so a reader registered by ``attach`` gets
    the history and then exactly the chunks published after it, in order.
    """

    def __init__(self, name: str, ring_limit: int) -> None:
        self.name = name
        self.ring: deque[bytes] = deque()
        self.ring_bytes = 0
        self.ring_limit = ring_limit
        self.total_written = 0
        self.mtime_ns = time.time_ns()
        self.closed = False
        self.readers: dict[str, Reader] = {}
        self.cut_off = 0
        self._next_reader = 0

    def publish(self, data: bytes | memoryview) -> None:
        if self.closed:
            raise PermissionDenied(f"stream is closed: {self.name}")
        if not data:
            return
        if isinstance(data, bytes) and len(data) <= CHUNK_SIZE:
            chunks = [data]
        else:
            view = memoryview(data)
            chunks = [bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE)]
        size = len(data)
        self.total_written += size
        self.mtime_ns = time.time_ns()
        self.ring.extend(chunks)
        self.ring_bytes += size
        while self.ring_bytes > self.ring_limit and len(self.ring) > 1:
            self.ring_bytes -= len(self.ring.popleft())
        for reader in list(self.readers.values()):
            if not reader.offer(chunks, size):
                del self.readers[reader.id]
                self.cut_off += 1
                log.warning(
                    "stream %s: reader %s had %d bytes unread; cut off",
                    self.name,
                    reader.id,
                    reader.limit,
                )

    def attach(self, queue_limit: int) -> Reader:
        self._next_reader += 1
        # As much of the most recent history as fits the reader's queue, oldest first.
        history: list[bytes] = []
        size = 0
        for chunk in reversed(self.ring):
            if history and size + len(chunk) > queue_limit:
                break
            history.append(chunk)
            size += len(chunk)
        history.reverse()
        reader = Reader(f"reader_{self._next_reader}_{time.time_ns()}", queue_limit, history)
        if self.closed:
            reader.end()
        else:
            self.readers[reader.id] = reader
        return reader

    def close(self) -> None:
        self.closed = True
        for reader in self.readers.values():
            reader.end()
        self.readers.clear()

    def info(
        self, fstype: str, kind: str = "stream", extra: dict[str, str] | None = None
    ) -> FileInfo:
        content = {
            "total_written": str(self.total_written),
            "active_readers": str(len(self.readers)),
            "closed": "true" if self.closed else "false",
            "readers_cut_off": str(self.cut_off),
            **(extra or {}),
        }
        return FileInfo(
            self.name.lstrip("/"),
            self.total_written,
            0o644,
            self.mtime_ns,
            False,
            Meta(fstype, kind, content),
            ReadEffect.ENDLESS,
        )


def buffer_fields() -> tuple[Field, ...]:
    """The two buffer keys of every stream plugin (the original streamfs's names and defaults)."""
    return (
        Field(
            "channel_buffer_size",
            "size",
            default=DEFAULT_BUFFER,
            min=MIN_BUFFER,
            max=MAX_BUFFER,
            help="bytes queued per reader before a too-slow reader is cut off",
        ),
        Field(
            "ring_buffer_size",
            "size",
            default=DEFAULT_BUFFER,
            min=MIN_BUFFER,
            max=MAX_BUFFER,
            help="bytes of recent history per stream replayed to new readers",
        ),
    )


class LiveStreams(FileSystem):
    """A flat namespace of live streams: every path other than ``/``, ``/README`` and
    ``/.close`` is a stream, created by its first writer or reader."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.channel_limit: int = config["channel_buffer_size"]
        self.ring_limit: int = config["ring_buffer_size"]
        self.streams: dict[str, Stream] = {}

    async def end_streams(self) -> None:
        # Unmount (and server stop) ends every reader cleanly instead of waiting for them.
        for stream in self.streams.values():
            stream.close()

    async def shutdown(self) -> None:
        await self.end_streams()
        self.streams.clear()

    # -- what subclasses change ------------------------------------------------------------

    async def publish(self, stream: Stream, data: bytes | memoryview) -> None:
        """One written piece: offered to the stream's history and readers."""
        stream.publish(data)

    def info(self, stream: Stream) -> FileInfo:
        return stream.info(self.fstype)

    async def forget(self, stream: Stream) -> None:
        """``stream`` was removed (and closed): release what the plugin keeps for it."""

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _check_key(path: str) -> None:
        if path == "/":
            raise IsADirectory(f"is a directory: {path}")
        if path in ("/README", CLOSE_FILE):
            raise PermissionDenied(f"permission denied: {path} is not a stream")

    def _stream(self, path: str) -> Stream:
        stream = self.streams.get(path)
        if stream is None:
            raise NotFound(f"stream not found: {path}")
        return stream

    def _open(self, path: str) -> Stream:
        """The stream at ``path``, created when missing (writers and readers both create)."""
        self._check_key(path)
        stream = self.streams.get(path)
        if stream is None:
            stream = self.streams[path] = Stream(path, self.ring_limit)
        return stream

    def _close_named(self, data: bytes) -> str:
        name = data.decode("utf-8", "replace").strip()
        if not name:
            raise InvalidArgument(f"invalid argument: write a stream name to {CLOSE_FILE}")
        path = "/" + name.lstrip("/")
        self._stream(path).close()
        return f"stream closed: {path}"

    # -- operations ------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o755, is_dir=True, meta=Meta(self.fstype))
        if path == "/README":
            return self.readme_info()
        if path == CLOSE_FILE:
            return FileInfo(CLOSE_FILE[1:], 0, 0o222, meta=Meta(self.fstype, "control"))
        return self.info(self._stream(path))

    async def readdir(self, path: str) -> list[FileInfo]:
        if path != "/":
            raise NotADirectory(f"not a directory: {path}")
        return [
            await self.stat("/README"),
            await self.stat(CLOSE_FILE),
            *(self.info(stream) for stream in self.streams.values()),
        ]

    async def create(self, path: str) -> None:
        self._check_key(path)
        if path in self.streams:
            raise AlreadyExists(f"stream already exists: {path}")
        self.streams[path] = Stream(path, self.ring_limit)

    async def remove(self, path: str, recursive: bool = False) -> None:
        self._check_key(path)
        stream = self._stream(path)
        del self.streams[path]
        stream.close()
        await self.forget(stream)

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/README":
            return read_range(self.readme, offset, size)
        if path == CLOSE_FILE:
            return b""
        self._check_key(path)
        self._stream(path)
        raise InvalidArgument(f"use stream mode for reading stream files: {path}")

    async def open_stream(self, path: str) -> AsyncIterator[bytes]:
        if path == "/README":
            return await self.read_stream(path)
        stream = self._open(path)
        return self._follow(stream, stream.attach(self.channel_limit))

    @staticmethod
    async def _follow(stream: Stream, reader: Reader) -> AsyncIterator[bytes]:
        try:
            while True:
                if reader.chunks:
                    yield reader.take()
                    continue
                if reader.overrun:
                    raise Unavailable(
                        f"stream {stream.name}: reader {reader.id} fell more than "
                        f"{reader.limit} bytes behind (channel_buffer_size) and was cut off"
                    )
                if reader.ended:
                    return
                reader.wakeup.clear()
                await reader.wakeup.wait()
        finally:
            # A client that leaves (or is cut off) frees its queue at once.
            stream.readers.pop(reader.id, None)
            reader.chunks.clear()

    async def open_handle(self, path: str, flags: OpenFlag, mode: int = 0o644) -> FileHandle:
        # A reading handle gets its own reader (history, then live data) when it opens; every
        # write publishes a chunk (streams only grow), so writing needs no random access.
        return await FileAdapter.open(self, path, flags, mode)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        # Streams only grow: offset and flags do not apply, every PUT appends.
        if path == CLOSE_FILE:
            return self._close_named(data)
        await self.publish(self._open(path), data)
        return f"Written {len(data)} bytes to stream"

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        # Each piece of a long chunked PUT reaches the readers as it arrives; nothing is
        # buffered, so the body limit does not apply (except to the small control file).
        if path == CLOSE_FILE:
            return await super().write_stream(path, chunks, offset, flags, 4096)
        stream = self._open(path)
        total = 0
        async for chunk in chunks:
            await self.publish(stream, chunk)
            total += len(chunk)
        return f"Written {total} bytes to stream"

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise NotSupported(f"{self.fstype} does not support directories")

    async def rename(self, old: str, new: str) -> None:
        raise NotSupported(f"{self.fstype} does not support rename")

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported(f"{self.fstype} does not support chmod")

    async def truncate(self, path: str, size: int) -> None:
        """A no-op: streams only grow, and a writer's truncating open (a shell's ``>``) must
        work. Any name is a stream, so there is nothing to check (and none is created)."""
