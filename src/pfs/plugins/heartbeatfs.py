"""heartbeatfs: a liveness registry. Each item is a directory that disappears when its timeout
passes without a heartbeat (a write or a touch of its ``keepalive``).

An item is gone the moment it expires, whatever the sweep has done yet: every lookup checks the
expiry itself, and the sweep (twice a second) only frees the memory of items nobody looks at.
State is in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from pfs.fs import (
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    NotSupported,
    PermissionDenied,
    WriteFlag,
    read_range,
)
from pfs.fs.base import REPLACE
from pfs.fs.gotime import format_rfc3339

_SECOND = 1_000_000_000
_FILES = ("keepalive", "ctl")
SWEEP_SECONDS = 0.5


@dataclass
class Item:
    last_ns: int
    timeout: float

    @property
    def expiry_ns(self) -> int:
        return self.last_ns + int(self.timeout * _SECOND)

    def beat(self, now_ns: int) -> None:
        self.last_ns = now_ns


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if seconds == int(seconds) else str(seconds)


class HeartbeatFS(FileSystem):
    fstype = "heartbeatfs"
    config_schema = (
        Field("default_timeout", "duration", default=300.0,
              help="seconds (or 30s, 5m …) an item lives without a heartbeat"),
    )

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.default_timeout: float = config["default_timeout"]
        self.items: dict[str, Item] = {}
        self.readme = self.load_readme("pfs.plugins.docs", "heartbeatfs.md").encode()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.time_ns()
            for name in [n for n, item in self.items.items() if item.expiry_ns <= now]:
                del self.items[name]

    # -- paths -------------------------------------------------------------------------------

    def _split(self, path: str) -> tuple[str, str]:
        """``/name/file`` → ``(name, file)``; ``/name`` → ``(name, "")``."""
        name, _, rest = path[1:].partition("/")
        return name, rest

    def _item(self, name: str) -> Item:
        item = self.items.get(name)
        if item is None or item.expiry_ns <= time.time_ns():
            raise NotFound(f"heartbeat item not found: {name}")
        return item

    def _file(self, path: str) -> tuple[str, Item, str]:
        """The item and file name of ``/name/file``; NotFound for anything else below an item."""
        name, file = self._split(path)
        item = self._item(name)
        if file and file not in _FILES:
            raise NotFound(f"file not found: {path}")
        return name, item, file

    # -- reading -----------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o755, is_dir=True, meta=Meta("heartbeatfs", "root"))
        if path == "/README":
            return self.readme_info()
        name, item, file = self._file(path)
        if not file:
            return FileInfo(name, 0, 0o755, item.last_ns, is_dir=True,
                            meta=Meta("heartbeatfs", "heartbeat_dir"))
        if file == "keepalive":
            return FileInfo(file, 0, 0o644, item.last_ns, meta=Meta("heartbeatfs", "keepalive"))
        return FileInfo(file, 0, 0o644, meta=Meta("heartbeatfs", "control"))

    async def readdir(self, path: str) -> list[FileInfo]:
        if path == "/":
            names = sorted(self.items)
            entries = [self.readme_info()]
            for name in names:
                with contextlib.suppress(NotFound):  # expired since the names were taken
                    entries.append(await self.stat("/" + name))
            return entries
        info = await self.stat(path)
        if not info.is_dir:
            raise NotADirectory(f"not a directory: {path}")
        return [await self.stat(f"{path}/{file}") for file in _FILES]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/README":
            return read_range(self.readme, offset, size)
        if path == "/":
            raise IsADirectory(f"is a directory: {path}")
        _, item, file = self._file(path)
        if not file:
            raise IsADirectory(f"is a directory: {path}")
        if file == "keepalive":
            return b""
        return read_range(self._status(item).encode(), offset, size)

    def _status(self, item: Item) -> str:
        alive = item.expiry_ns > time.time_ns()
        return (
            f"last_heartbeat_ts: {format_rfc3339(item.last_ns / _SECOND)}\n"
            f"expire_ts: {format_rfc3339(item.expiry_ns / _SECOND)}\n"
            f"timeout: {_seconds_text(item.timeout)}\n"
            f"status: {'alive' if alive else 'expired'}\n"
        )

    # -- changing ----------------------------------------------------------------------------

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        name, rest = self._split(path)
        if path == "/":
            raise AlreadyExists(f"file exists: {path}")
        if rest:
            raise InvalidArgument(
                f"mkdir: {path}: can only create heartbeat items at the root level"
            )
        if name == "README":
            raise InvalidArgument(f"mkdir: {path}: invalid heartbeat item name: README")
        with contextlib.suppress(NotFound):
            self._item(name)
            raise AlreadyExists(f"heartbeat item already exists: {name}")
        self.items[name] = Item(time.time_ns(), self.default_timeout)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        name, file = self._split(path)
        if not file:
            if name not in ("", "README"):
                self._item(name)  # NotFound for a missing item
            raise InvalidArgument(
                f"write: {path}: can only write to an item's keepalive or ctl file"
            )
        _, item, file = self._file(path)
        if file == "keepalive":
            item.beat(time.time_ns())
            return ""
        command = data.decode("utf-8", "replace").strip()
        if not command.startswith("timeout="):
            raise InvalidArgument(
                f"write: {path}: invalid ctl command, use 'timeout=N' (seconds)"
            )
        try:
            timeout = float(command[len("timeout="):].split()[0])
        except (ValueError, IndexError):
            raise InvalidArgument(
                f"write: {path}: invalid ctl command, use 'timeout=N' (seconds)"
            ) from None
        if not timeout > 0:
            raise InvalidArgument(f"write: {path}: timeout must be positive")
        item.timeout = timeout
        return ""

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        """A touch of ``keepalive`` is a heartbeat at the time given (now, by default)."""
        _, item, file = self._file(path)
        if file != "keepalive":
            raise NotSupported(f"touch: {path}: only an item's keepalive file can be touched")
        item.beat(mtime_ns)

    async def truncate(self, path: str, size: int) -> None:
        """keepalive and ctl are empty: cutting them to any size changes nothing (so a shell's
        truncating ``>`` before its write works)."""
        _, _, file = self._file(path)
        if not file:
            raise IsADirectory(f"is a directory: {path}")

    async def remove(self, path: str, recursive: bool = False) -> None:
        """Removing an item, or anything below it, deletes the item."""
        if path == "/":
            raise PermissionDenied(f"remove: {path}: cannot remove the root")
        if path == "/README":
            raise PermissionDenied(f"remove: {path}: the README cannot be removed")
        name, _, _ = self._file(path)
        del self.items[name]

    async def create(self, path: str) -> None:
        try:
            await self.stat(path)
        except NotFound:
            raise InvalidArgument(f"create: {path}: use mkdir to create heartbeat items") from None
        raise AlreadyExists(f"file exists: {path}")

    async def rename(self, old: str, new: str) -> None:
        raise NotSupported(f"rename: {old}: rename not supported in heartbeatfs")

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported(f"chmod: {path}: chmod not supported in heartbeatfs")
