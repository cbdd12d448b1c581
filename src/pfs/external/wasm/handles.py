"""File handles of AGFS-ABI WASM plugins (AGFS.md §7.2) for ``/api/v1/handles``: the guest's
``handle_*`` exports, called on the one pool instance that opened the handle (its handle table
lives there), which stays pinned to the handle until it closes.

Results pack two u32s: low = count, position or JSON pointer, high = error pointer; the host
frees what it placed and what the guest returned (§7.4).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pfs.external.wasm.abi import MASK32, info_from_json, unpack
from pfs.external.wasm.instance import Instance, Scratch
from pfs.external.wasm.reentry import Grants
from pfs.fs.base import WRITE_LIMIT
from pfs.fs.errors import FSError, InvalidArgument, NotSupported, TooLarge
from pfs.fs.fileinfo import FileInfo
from pfs.fs.handles import FileHandle, OpenFlag

if TYPE_CHECKING:
    from pfs.external.wasm.pool import Pool


def _func(instance: Instance, export: str) -> Any:
    func = instance.funcs.get(export)
    if func is None:
        raise NotSupported(f"{export} not implemented in WASM plugin {instance.name}")
    return func


def _fail(scratch: Scratch, what: str, error_ptr: int) -> FSError:
    try:
        message = scratch.string(error_ptr)
    except FSError:
        message = ""
    return FSError(f"{what} failed: {message}" if message else f"{what} failed")


def open_id(scratch: Scratch, value: int) -> int:
    """The guest's handle id from a ``handle_open`` result (AGFS: id high, error low; the Rust
    SDK: id low). ``high`` alone is an id unless it points at an error text."""
    low, high = unpack(value)
    if low and high:
        raise _fail(scratch, "open handle", low)
    if high:
        try:
            text = scratch.instance.cstring(scratch.st, high)
        except FSError:
            text = ""
        if text:
            raise _fail(scratch, "open handle", high)
        return high
    if low:
        return low
    raise FSError("open handle failed: handle_open returned zero id")


async def open_handle(
    pool: Pool, grants: Grants, path: str, flags: OpenFlag, mode: int
) -> WasmHandle:
    """Open ``path`` on a pool instance, which stays pinned to the handle until it closes."""
    instance = await pool.acquire(pin=True)

    def work(inst: Instance, st: Any) -> int:
        func = _func(inst, "handle_open")
        with Scratch(inst, st) as scratch:
            path_ptr = scratch.put(path.encode(), True, shared=True)
            return open_id(scratch, func(st, path_ptr, int(flags) & MASK32, mode & MASK32))

    try:
        guest_id = await instance.call(pool.prepared(work), grants)
    except BaseException:
        pool.release(instance)
        raise
    return WasmHandle(pool, instance, grants, guest_id, path, flags)


class WasmHandle(FileHandle):
    """One open handle: the guest's id on the instance it pins. The guest keeps the position
    and checks the access mode; ``position`` mirrors what it reports."""

    def __init__(
        self,
        pool: Pool,
        instance: Instance,
        grants: Grants,
        guest_id: int,
        path: str,
        flags: OpenFlag,
    ) -> None:
        super().__init__(path, flags)
        self.pool = pool
        self.instance = instance
        self.grants = grants
        self.guest_id = guest_id
        self.closed = False

    async def _call(self, work: Any) -> Any:
        if self.closed:
            raise FSError(f"handle {self.guest_id} of {self.path} is closed")
        return await self.instance.call(work, self.grants)

    async def read(self, size: int, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes at the handle's position (which advances), or at ``offset``."""
        if size < 0:
            raise InvalidArgument(f"read: {self.path}: size must not be negative")
        export = "handle_read" if offset is None else "handle_read_at"
        hid = self.guest_id

        def work(inst: Instance, st: Any) -> bytes:
            func = _func(inst, export)
            with Scratch(inst, st) as scratch:
                buf = scratch.put(bytes(size), False, shared=True)
                args = (hid, buf, size) if offset is None else (hid, buf, size, offset)
                count, error = unpack(func(st, *args))
                if error:
                    raise _fail(scratch, "read", error)
                return inst.buffer(st, buf, min(count, size))

        data = await self._call(work)
        if offset is None:
            self.position += len(data)
        return data

    async def write(
        self, chunks: AsyncIterator[bytes], offset: int | None = None, limit: int = WRITE_LIMIT
    ) -> int:
        """Write the body at the handle's position (or at the end, for append), or at
        ``offset``; the guest takes it in one call, so it is buffered up to ``limit``."""
        parts: list[bytes] = []
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise TooLarge(
                    f"write: {self.path}: request body exceeds the limit of {limit} bytes"
                )
            parts.append(chunk)
        count = await self._write(b"".join(parts), offset)
        if offset is None:
            self.position += count
        return count

    async def _write(self, data: bytes, offset: int | None) -> int:
        export = "handle_write" if offset is None else "handle_write_at"
        hid = self.guest_id

        def work(inst: Instance, st: Any) -> int:
            func = _func(inst, export)
            with Scratch(inst, st) as scratch:
                ptr = scratch.put(data, False, shared=True)
                args = (hid, ptr, len(data)) if offset is None else (hid, ptr, len(data), offset)
                count, error = unpack(func(st, *args))
                if error:
                    raise _fail(scratch, "write", error)
                return count

        return await self._call(work)

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        hid = self.guest_id

        def work(inst: Instance, st: Any) -> int:
            func = _func(inst, "handle_seek")
            with Scratch(inst, st) as scratch:
                position, error = unpack(func(st, hid, offset, whence))
                if error:
                    raise _fail(scratch, "seek", error)
                return position

        self.position = await self._call(work)
        return self.position

    async def _status_call(self, export: str, what: str) -> None:
        hid = self.guest_id

        def work(inst: Instance, st: Any) -> None:
            func = _func(inst, export)
            with Scratch(inst, st) as scratch:
                error = func(st, hid) & MASK32
                if error:
                    raise _fail(scratch, what, error)

        await self._call(work)

    async def sync(self) -> None:
        await self._status_call("handle_sync", "sync")

    async def stat(self) -> FileInfo:
        hid = self.guest_id

        def work(inst: Instance, st: Any) -> FileInfo:
            func = _func(inst, "handle_stat")
            with Scratch(inst, st) as scratch:
                json_ptr, error = unpack(func(st, hid))
                if error:
                    raise _fail(scratch, "stat", error)
                if json_ptr == 0:
                    raise FSError("stat failed: handle_stat returned null")
                try:
                    return info_from_json(json.loads(scratch.string(json_ptr)))
                except ValueError as exc:
                    raise FSError(f"stat failed: {exc}") from None

        return await self._call(work)

    async def close(self) -> None:
        """Close the guest's handle and unpin the instance (even when the guest fails)."""
        if self.closed:
            return
        try:
            if "handle_close" in self.instance.funcs:
                await self._status_call("handle_close", "close")
        finally:
            self.closed = True
            self.pool.release(self.instance)
