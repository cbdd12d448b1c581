"""Open files: how kernel reads and writes become PFS requests.

Two read modes, chosen at open:

* **live** (direct I/O): control and status files whose content is made at read time (queuefs
  ``dequeue``, ``size``, serverinfofs ``uptime``) and every file reporting size 0. The kernel reads
  such a file in several calls, so the whole content is fetched once, at the first read, and
  later reads of the same open are served from that copy: one ``cat`` consumes exactly one message.
* **stream** (direct I/O, not seekable): streamfs streams never end; they are read with
  ``GET ?stream=true`` and each kernel read returns the next bytes as they arrive (at most one
  chunk is held back per handle), so ``cat /mnt/streamfs/live | player`` follows the stream.
  A read waiting for data answers EINTR when its program is killed or has a signal to handle
  (see ``interrupts``) and when the mount stops, so neither waits for a writer.
* **ranged** (page cache): ordinary files, read with ``GET offset/size`` through a read-ahead
  window that doubles on sequential reads up to ``READ_AHEAD_MAX``; while the kernel copies one
  window the next is already being fetched (at most two windows per handle).

Writes are collected in one contiguous write-behind buffer per handle (at most ``WRITE_BUFFER``
bytes) and sent on flush (``close``), fsync, release, a non-contiguous write or a full buffer (a
full one goes out in the background while the next fills: two buffers per handle at most). The
first send of a handle whose file is empty or was opened with ``O_TRUNC`` is a plain ``PUT``
(create or replace), so ``echo x > /queuefs/q/enqueue`` is one enqueue and never a truncate;
later sends carry ``offset`` (or ``flags=append`` for ``O_APPEND``), so random writes change only
their bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import AsyncIterator, Callable

import pyfuse3

from pfs.client import AsyncClient
from pfs.fs.errors import FSError, TooLarge
from pfs.fuse.interrupts import caller_interrupted

READ_AHEAD_MIN = 128 * 1024
READ_AHEAD_MAX = 4 * 1024 * 1024
WRITE_BUFFER = 4 * 1024 * 1024
#: Largest live file kept for one open (a live file is fetched whole).
LIVE_MAX = 64 * 1024 * 1024
#: Seconds between checks whether the reader of a stream was interrupted (or the mount stops).
INTERRUPT_POLL = 0.1


class OpenFile:
    """One kernel file handle."""

    def __init__(
        self,
        client: AsyncClient,
        inode: int,
        path_of: Callable[[int], str],
        flags: int,
        *,
        live: bool,
        whole_writes: bool,
        size: int,
        stream: bool = False,
        reader_pid: int = 0,
    ) -> None:
        self.client = client
        self.inode = inode
        self._path_of = path_of
        self.live = live
        self.stream = stream
        self._chunks: AsyncIterator[bytes] | None = None
        self._leftover = b""
        #: The process that opened a stream: its pending signals end a read that waits for data.
        self.reader_pid = reader_pid
        self._waiting: asyncio.Future[bytes] | None = None
        self._ending = False
        self.whole_writes = whole_writes
        self.append = bool(flags & os.O_APPEND)
        truncated = bool(flags & os.O_TRUNC)
        empty = size == 0
        #: The size the kernel should see while this handle holds data the server has not.
        self.known_size = 0 if truncated else size
        # The next send may replace the whole file: it is empty, new, or opened with O_TRUNC.
        self.replace = empty or truncated
        self._truncate_on_flush = truncated and not empty and not whole_writes
        self.lock = asyncio.Lock()
        self._live_content: bytes | None = None
        self._window_start = 0
        self._window = b""
        self._read_ahead = READ_AHEAD_MIN
        self._last_read_end = -1
        self._prefetched: asyncio.Future[bytes] | None = None
        self._prefetch_offset = self._prefetch_size = 0
        self._pending = bytearray()
        self._sending: asyncio.Future[None] | None = None
        self._pending_offset = 0
        self.wrote = False

    @property
    def path(self) -> str:
        return self._path_of(self.inode)

    # Reads.

    async def read(self, offset: int, size: int) -> bytes:
        if self.stream:
            return await self._read_stream(size)
        async with self.lock:
            await self._send_pending()
            if self.live:
                if self._live_content is None:
                    self._live_content = await self._fetch_live()
                return self._live_content[offset : offset + size]
            return await self._read_ranged(offset, size)

    async def _read_stream(self, size: int) -> bytes:
        # No handle lock: a read may wait long for data while close() must not wait for it.
        if self._chunks is None:
            self._chunks = aiter(self.client.iter_cat(self.path, stream=True))
        data = self._leftover
        while not data:
            try:
                data = await self._next_chunk(self._chunks)
            except StopAsyncIteration:
                return b""
        self._leftover = data[size:]
        return data[:size]

    async def _next_chunk(self, chunks: AsyncIterator[bytes]) -> bytes:
        """The next chunk, or EINTR once the reader is interrupted or the mount is stopping.

        The wait is cancelled then, which closes the HTTP stream; a later read opens a new one.
        """
        waiting = self._waiting = asyncio.ensure_future(anext(chunks))
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=INTERRUPT_POLL)
                if done:
                    return waiting.result()
                if self._ending or caller_interrupted(self.reader_pid):
                    break
        finally:
            self._waiting = None
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await waiting
        self._chunks = None
        raise pyfuse3.FUSEError(errno.EINTR)

    def end_stream_read(self) -> None:
        """The mount is stopping: a read waiting for stream data answers EINTR (within
        ``INTERRUPT_POLL`` seconds)."""
        self._ending = True

    async def close_stream(self) -> None:
        self.end_stream_read()
        chunks, self._chunks = self._chunks, None
        if self._waiting is not None:
            return  # the waiting read cancels the stream and its connection itself
        if chunks is not None:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _fetch_live(self) -> bytes:
        content = await self.client.cat(self.path)
        if len(content) > LIVE_MAX:
            raise TooLarge(f"file too large for a live read: {self.path}")
        return content

    async def _read_ranged(self, offset: int, size: int) -> bytes:
        start, window = self._window_start, self._window
        if start <= offset and offset + size <= start + len(window):
            self._last_read_end = offset + size
            return window[offset - start : offset - start + size]
        sequential = offset == self._last_read_end
        if sequential:
            self._read_ahead = min(self._read_ahead * 2, READ_AHEAD_MAX)
        else:
            self._read_ahead = READ_AHEAD_MIN
        want = max(size, self._read_ahead)
        data = await self._take_prefetched(offset)
        # A prefetched window shorter than asked for is the end of the file; otherwise it must
        # cover this read.
        if data is None or (len(data) < size and len(data) == self._prefetch_size):
            data = await self.client.cat(self.path, offset, want)
        self._window_start, self._window = offset, data
        self._last_read_end = offset + min(size, len(data))
        if sequential and len(data) >= want:
            # Fetch the next window while the kernel copies this one: at most two per handle.
            self._prefetch(offset + len(data), self._read_ahead)
        # A short answer means end of file: keep it, later reads there will be served empty.
        return data[:size]

    def _prefetch(self, offset: int, size: int) -> None:
        self._prefetch_offset, self._prefetch_size = offset, size
        task = asyncio.ensure_future(self.client.cat(self.path, offset, size))
        # A prefetch nobody awaits (seek, close) must not log "exception never retrieved".
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._prefetched = task

    async def _take_prefetched(self, offset: int) -> bytes | None:
        task, self._prefetched = self._prefetched, None
        if task is None:
            return None
        if self._prefetch_offset != offset:
            task.cancel()
            return None
        try:
            return await task
        except FSError:
            return None  # asked again below, where the error reaches the reader

    def drop_buffers(self) -> None:
        self._window = b""
        self._live_content = None
        if self._prefetched is not None:
            self._prefetched.cancel()
            self._prefetched = None

    # Writes.

    async def write(self, offset: int, data: bytes) -> int:
        async with self.lock:
            self.drop_buffers()
            self.wrote = True
            # O_APPEND data goes to the end whatever offset the kernel computed from its i_size.
            contiguous = self.append or offset == self._pending_offset + len(self._pending)
            if self._pending and not contiguous:
                await self._send_pending()
            if not self._pending:
                self._pending_offset = offset
            self._pending += data
            end = self.known_size + len(data) if self.append else offset + len(data)
            self.known_size = max(self.known_size, end)
            if len(self._pending) >= WRITE_BUFFER:
                await self._send_pending(background=True)
            return len(data)

    async def flush(self) -> None:
        async with self.lock:
            await self._send_pending()
            if self._truncate_on_flush and not self.wrote:
                await self.client.write(self.path, b"")
            self._truncate_on_flush = False

    async def _send_pending(self, *, background: bool = False) -> None:
        """Send the buffered bytes; in the background the next buffer fills meanwhile.

        Sends stay in order (each waits for the one before), so at most two buffers exist per
        handle, and a failed background send is reported by the next write, read or close.
        """
        sending, self._sending = self._sending, None
        if sending is not None:
            await sending
        if not self._pending:
            return
        data, offset = bytes(self._pending), self._pending_offset
        self._pending.clear()
        if background:
            self._sending = asyncio.ensure_future(self._send(data, offset))
        else:
            await self._send(data, offset)

    async def _send(self, data: bytes, offset: int) -> None:
        replace, self.replace = self.replace, False
        self._truncate_on_flush = False
        if self.whole_writes or (replace and offset == 0):
            # Live files (enqueue) take each send as one whole write; never offsets or truncates.
            await self.client.write(self.path, data)
        elif replace:
            # Opened with O_TRUNC but first written past the start: empty it, then write there.
            await self.client.write(self.path, b"")
            await self.client.write(self.path, data, offset=offset)
        elif self.append:
            await self.client.write(self.path, data, flags=["append"])
        else:
            await self.client.write(self.path, data, offset=offset)

    @property
    def dirty(self) -> bool:
        return bool(self._pending) or self._truncate_on_flush or self._sending is not None
