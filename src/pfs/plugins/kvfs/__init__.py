"""kvfs: a key/value store as files under ``/keys``."""

from __future__ import annotations

import time
from typing import Any

from pfs.fs import (
    REPLACE,
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
    WriteFlag,
    apply_write,
    read_range,
)


class KVFS(FileSystem):
    fstype = "kvfs"
    config_schema = (Field("initial_data", "map", default={}, help="keys loaded at mount"),)
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.readme = self.load_readme("pfs.plugins.docs", "kvfs.md").encode()
        self.store: dict[str, bytes] = {}
        for key, value in (config.get("initial_data") or {}).items():
            self.store[str(key)] = _scalar_text(value).encode()

    async def shutdown(self) -> None:
        self.store.clear()

    @staticmethod
    def _key(path: str, op: str) -> str:
        if not path.startswith("/keys/"):
            raise InvalidArgument(f"invalid argument path={path}: keys must be under /keys/")
        key = path[len("/keys/") :]
        if not key:
            raise InvalidArgument("key name cannot be empty")
        return key

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o755, is_dir=True, meta=Meta("kvfs", "dir"))
        if path == "/README":
            return FileInfo("README", len(self.readme), 0o444, meta=Meta("kvfs", "doc"))
        if path == "/keys":
            return FileInfo("keys", 0, 0o755, is_dir=True, meta=Meta("kvfs", "dir"))
        if not path.startswith("/keys/"):
            raise NotFound(f"invalid path: {path}")
        key = path[len("/keys/") :]
        value = self.store.get(key)
        if value is None:
            raise NotFound(f"key not found: {key}")
        return FileInfo(key.rsplit("/", 1)[-1], len(value), 0o644, meta=Meta("kvfs", "file"))

    async def readdir(self, path: str) -> list[FileInfo]:
        if path == "/":
            return [await self.stat("/README"), await self.stat("/keys")]
        if path == "/keys":
            now = time.time_ns()
            return [
                FileInfo(k.rsplit("/", 1)[-1], len(v), 0o644, now, meta=Meta("kvfs", "file"))
                for k, v in self.store.items()
            ]
        raise NotADirectory(f"not a directory: {path}")

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/README":
            return read_range(self.readme, offset, size)
        if path in ("/", "/keys"):
            raise IsADirectory(f"is a directory: {path}")
        if not path.startswith("/keys/"):
            raise NotFound(f"invalid path: {path}")
        key = self._key(path, "read")
        value = self.store.get(key)
        if value is None:
            raise NotFound(f"key not found: {key}")
        return read_range(value, offset, size)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        if path in ("/", "/keys"):
            raise IsADirectory(f"cannot write to directory: {path}")
        key = self._key(path, "write")
        old = self.store.get(key)
        if old is None and not flags & WriteFlag.CREATE:
            raise NotFound(f"key not found: {key}")
        if old is not None and flags & WriteFlag.EXCLUSIVE:
            raise AlreadyExists(f"key already exists: {key}")
        self.store[key] = apply_write(old, data, offset, flags)
        return ""

    async def create(self, path: str) -> None:
        if path in ("/", "/keys"):
            raise InvalidArgument(f"cannot create: {path}")
        key = self._key(path, "create")
        if key in self.store:
            raise AlreadyExists(f"key already exists: {key}")
        self.store[key] = b""

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        if path == "/keys":
            return
        raise NotSupported("cannot create directories in kvfs service")

    async def remove(self, path: str, recursive: bool = False) -> None:
        if path == "/keys" and recursive:
            self.store.clear()
            return
        if not path.startswith("/keys/"):
            raise InvalidArgument(f"invalid argument path={path}: can only remove keys under /keys/")
        key = self._key(path, "remove")
        if self.store.pop(key, None) is None:
            raise NotFound(f"key not found: {key}")

    async def rename(self, old: str, new: str) -> None:
        if not (old.startswith("/keys/") and new.startswith("/keys/")):
            raise InvalidArgument("can only rename keys under /keys/")
        old_key, new_key = self._key(old, "rename"), self._key(new, "rename")
        if old_key not in self.store:
            raise NotFound(f"key not found: {old_key}")
        if new_key in self.store:
            raise AlreadyExists(f"key already exists: {new_key}")
        self.store[new_key] = self.store.pop(old_key)

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported("cannot change permissions in kvfs service")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
