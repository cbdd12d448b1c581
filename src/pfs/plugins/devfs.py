"""devfs: the device files every server has at ``/dev`` (``null``, ``zero``, ``urandom``).

``/dev/null`` reads empty and swallows writes. ``/dev/zero`` and ``/dev/urandom`` have no end on
a real system; here they have size 0, so a read without ``size`` is empty, and a read with
``size`` gives that many bytes, at most :data:`READ_LIMIT` (more is refused, not cut short).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from pfs.fs import (
    WRITE_LIMIT,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    ReadOnly,
    WriteFlag,
    read_range,
)
from pfs.fs.base import REPLACE

#: The most bytes one read of ``/dev/zero`` or ``/dev/urandom`` hands out.
READ_LIMIT = WRITE_LIMIT

_DEVICES = ("null", "zero", "urandom")


class DevFS(FileSystem):
    fstype = "devfs"

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.readme = self.load_readme("pfs.plugins.docs", "devfs.md").encode()

    def _device(self, path: str) -> str:
        name = path[1:]
        if name not in _DEVICES:
            raise NotFound(f"no such device: {path}")
        return name

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o555, is_dir=True, meta=Meta("devfs", "directory"))
        if path == "/README":
            return self.readme_info()
        name = self._device(path)
        return FileInfo(name, 0, 0o666 if name == "null" else 0o444, meta=Meta("devfs", "device"))

    async def readdir(self, path: str) -> list[FileInfo]:
        if path != "/":
            await self.stat(path)
            raise NotADirectory(f"not a directory: {path}")
        return [self.readme_info(), *[await self.stat("/" + name) for name in _DEVICES]]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/":
            raise IsADirectory(f"is a directory: {path}")
        if path == "/README":
            return read_range(self.readme, offset, size)
        name = self._device(path)
        if name == "null" or size <= 0:
            return b""
        if size > READ_LIMIT:
            raise InvalidArgument(
                f"read: {path}: size {size} exceeds the limit of {READ_LIMIT} bytes per read"
            )
        return bytes(size) if name == "zero" else os.urandom(size)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        self._writable(path)
        return f"Written {len(data)} bytes"

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """Counts and drops each piece as it arrives: no body is ever held, whatever its size."""
        self._writable(path)
        total = 0
        async for chunk in chunks:
            total += len(chunk)
        return f"Written {total} bytes"

    async def truncate(self, path: str, size: int) -> None:
        self._writable(path)

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Accepted on every existing entry, as ``touch /dev/null`` is; devices keep no times
        (they always show the current one)."""
        await self.stat(path)

    def _writable(self, path: str) -> None:
        if path != "/null":
            if path not in ("/", "/README"):
                self._device(path)
            raise ReadOnly(f"write: {path}: read-only device")

    async def _read_only(self, path: str, *args: object, **kwargs: object) -> None:
        raise ReadOnly(f"{path}: read-only filesystem")

    create = mkdir = remove = rename = chmod = _read_only  # type: ignore[assignment]
