"""pyhello: a read-only file system with one file whose greeting comes from the mount config."""

from __future__ import annotations

from pfs.fs import Field, FileInfo, FileSystem, Meta, NotFound, ReadOnly, read_range


class PyHelloFS(FileSystem):
    fstype = "pyhello"
    config_schema = (
        Field("greeting", "string", default="Hello from Python!", help="text of /hello"),
    )

    def _content(self) -> bytes:
        return (self.config["greeting"] + "\n").encode()

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o555, is_dir=True, meta=Meta("pyhello", "directory"))
        if path == "/hello":
            return FileInfo("hello", len(self._content()), 0o444, meta=Meta("pyhello", "file"))
        raise NotFound(f"file not found: {path}")

    async def readdir(self, path: str) -> list[FileInfo]:
        if path != "/":
            raise NotFound(f"file not found: {path}")
        return [await self.stat("/hello")]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path != "/hello":
            raise NotFound(f"file not found: {path}")
        return read_range(self._content(), offset, size)

    async def write(self, path: str, data: bytes, offset: int = 0, flags=None) -> str:
        raise ReadOnly(f"write: {path}: read-only filesystem")
