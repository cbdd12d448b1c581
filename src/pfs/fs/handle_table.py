"""The open handles of the namespace: ids, leases, the limit, and closing them with their mount.

Ids come from one counter per process starting at 1 and are never reused, so an id that was
closed, expired or unmounted answers "not found" for the life of the server. A handle idle for
longer than its lease (seconds) expires; every operation renews it, and so does ``renew``. The
mount table closes a mount's handles when it unmounts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pfs.fs.base import WRITE_LIMIT
from pfs.fs.errors import FSError, InvalidArgument, NotFound, Unavailable
from pfs.fs.events import EventHub
from pfs.fs.fileinfo import FileInfo
from pfs.fs.handles import FileHandle

if TYPE_CHECKING:
    from pfs.fs.mounts import Mount

log = logging.getLogger("pfs.handles")

#: Lease of a handle opened without one, and the range a client may ask for (seconds).
DEFAULT_LEASE = 60
MIN_LEASE, MAX_LEASE = 1, 3600
#: Handles open at once in one server (AGFS's limit).
MAX_OPEN = 10_000
#: How often idle handles are looked for while any are open (seconds).
SWEEP_EVERY = 1.0


def check_lease(lease: int) -> int:
    if not MIN_LEASE <= lease <= MAX_LEASE:
        raise InvalidArgument(
            f"invalid lease parameter: {lease} (must be between {MIN_LEASE} and {MAX_LEASE} "
            "seconds)"
        )
    return lease


class OpenHandle(FileHandle):
    """A plugin's handle as the namespace keeps it: its id, full path and lease.

    Every operation counts as an in-flight request of the mount (unmount waits for it), renews
    the lease before and after, and names the full path in its errors. Operations on one handle
    run one at a time (they share the position); a stream runs beside them, so a ``close`` can
    end it.
    """

    def __init__(
        self,
        handle_id: int,
        mount: Mount,
        path: str,
        handle: FileHandle,
        lease: int,
        events: EventHub | None = None,
    ) -> None:
        self.handle = handle
        self._events = events
        super().__init__(path, handle.flags)
        self.id = handle_id
        self.mount = mount
        self.lease = lease
        self.created_ns = time.time_ns()
        self.last_access_ns = self.created_ns
        self._deadline = time.monotonic() + lease
        self._busy = 0
        self._lock = asyncio.Lock()
        self.closed = False

    @property
    def expires_ns(self) -> int:
        """When the lease ends if the handle stays idle (wall clock, nanoseconds)."""
        return self.last_access_ns + self.lease * 1_000_000_000

    def renew(self, lease: int | None = None) -> None:
        if lease is not None:
            self.lease = check_lease(lease)
        self.last_access_ns = time.time_ns()
        self._deadline = time.monotonic() + self.lease

    def expired(self, now: float) -> bool:
        return not self._busy and now > self._deadline

    @contextlib.asynccontextmanager
    async def _using(self, op: str, locked: bool = True) -> AsyncIterator[FileHandle]:
        self._busy += 1
        self.mount.enter(op)
        self.renew()
        try:
            async with self._lock if locked else contextlib.nullcontext():
                if self.closed:  # closed while this operation waited for the one before
                    raise NotFound(f"handle not found: {self.id} (closed)")
                try:
                    yield self.handle
                except FSError as exc:
                    raise exc.at(self.path) from exc
        finally:
            self.renew()
            self._busy -= 1
            self.mount.leave()

    @property
    def position(self) -> int:
        return self.handle.position  # the plugin's handle owns the position

    @position.setter
    def position(self, value: int) -> None:
        self.handle.position = value

    async def read(self, size: int, offset: int | None = None) -> bytes:
        async with self._using("handle_read") as handle:
            return await handle.read(size, offset)

    async def write(
        self, chunks: AsyncIterator[bytes], offset: int | None = None, limit: int = WRITE_LIMIT
    ) -> int:
        async with self._using("handle_write") as handle:
            written = await handle.write(chunks, offset, limit)
        if self._events is not None:
            self._events.publish("write", self.path)
        return written

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        async with self._using("handle_seek") as handle:
            return await handle.seek(offset, whence)

    async def stream(self) -> AsyncIterator[bytes]:
        async with self._using("handle_stream", locked=False) as handle:
            async for data in handle.stream():
                self.renew()
                yield data

    async def sync(self) -> None:
        async with self._using("handle_sync") as handle:
            await handle.sync()

    async def truncate(self, size: int) -> None:
        async with self._using("handle_truncate") as handle:
            await handle.truncate(size)
        if self._events is not None:
            self._events.publish("truncate", self.path)

    async def stat(self) -> FileInfo:
        async with self._using("handle_stat") as handle:
            return await handle.stat()

    async def close(self) -> None:
        # Not under the lock: closing ends a read that waits on a live stream.
        self.closed = True
        try:
            await self.handle.close()
        except Exception:
            log.exception("closing handle %d (%s) failed", self.id, self.path)


class HandleTable:
    """Every open handle of one namespace by id, with the limit ``max_open``."""

    def __init__(self, max_open: int = MAX_OPEN, events: EventHub | None = None) -> None:
        self.max_open = max_open
        #: Where handle writes are told to watchers.
        self.events = events
        self._handles: dict[int, OpenHandle] = {}
        self._ids = itertools.count(1)
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._handles)

    def check_room(self) -> None:
        """Refuse a new handle when ``max_open`` are open (503: room comes back as handles close
        or expire)."""
        if len(self._handles) >= self.max_open:
            raise Unavailable(
                f"too many open handles: {len(self._handles)} of at most {self.max_open} "
                "(server.max_open_handles) are open; close some (DELETE /api/v1/handles/<id>) "
                "or wait for their leases to end"
            )

    def add(self, mount: Mount, path: str, handle: FileHandle, lease: int) -> OpenHandle:
        self.check_room()
        opened = OpenHandle(
            next(self._ids), mount, path, handle, check_lease(lease), self.events
        )
        self._handles[opened.id] = opened
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return opened

    def get(self, handle_id: int) -> OpenHandle:
        opened = self._handles.get(handle_id)
        if opened is not None and opened.expired(time.monotonic()):
            self._drop(opened)
            opened = None
        if opened is None:
            raise NotFound(
                f"handle not found: {handle_id} (never opened, closed, expired or unmounted)"
            )
        return opened

    def list(self) -> list[OpenHandle]:
        self._expire()
        return list(self._handles.values())

    async def close(self, handle_id: int) -> None:
        opened = self.get(handle_id)
        del self._handles[handle_id]
        await opened.close()

    async def close_mount(self, mount: Mount) -> None:
        """Close every handle of ``mount`` (it is being unmounted)."""
        closing = [h for h in self._handles.values() if h.mount is mount]
        for opened in closing:
            del self._handles[opened.id]
        for opened in closing:
            await opened.close()

    async def close_all(self) -> None:
        closing, self._handles = list(self._handles.values()), {}
        for opened in closing:
            await opened.close()
        if self._sweeper is not None:
            self._sweeper.cancel()

    def _expire(self) -> None:
        now = time.monotonic()
        for opened in [h for h in self._handles.values() if h.expired(now)]:
            self._drop(opened)

    def _drop(self, opened: OpenHandle) -> None:
        """Forget an expired handle at once (its id answers 404 from now on) and release what it
        holds in the background."""
        del self._handles[opened.id]
        log.info("handle %d (%s) expired after %d idle seconds", opened.id, opened.path,
                 opened.lease)
        task = asyncio.get_running_loop().create_task(opened.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _sweep(self) -> None:
        """Expire idle handles while any are open, so their plugin resources (a stream reader,
        a cached message) go even when nobody asks for them again."""
        while self._handles:
            await asyncio.sleep(SWEEP_EVERY)
            self._expire()


#: Closings of expired handles in progress (kept referenced until they finish).
_closing: set[asyncio.Task[None]] = set()
