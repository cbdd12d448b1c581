"""hellofs: one read-only file, ``/hello``."""

from __future__ import annotations

from pfs.fs import FileInfo, FileSystem, Meta, NotADirectory, NotFound, ReadOnly, read_range
from pfs.fs.base import truncate_as_no_op

HELLO = b"Hello, World!\n"


class HelloFS(FileSystem):
    fstype = "hellofs"

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.readme = self.load_readme("pfs.plugins.docs", "hellofs.md").encode()

    def _files(self) -> dict[str, bytes]:
        return {"/hello": HELLO, "/README": self.readme}

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o555, is_dir=True, meta=Meta("hellofs", "directory"))
        if path == "/README":
            return self.readme_info()
        data = self._files().get(path)
        if data is None:
            raise NotFound(f"file not found: {path}")
        return FileInfo(path[1:], len(data), 0o444, meta=Meta("hellofs", "file"))

    async def readdir(self, path: str) -> list[FileInfo]:
        if path != "/":
            raise NotADirectory(f"not a directory: {path}")
        return [await self.stat(p) for p in self._files()]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        data = self._files().get(path)
        if data is None:
            raise NotFound(f"file not found: {path}")
        return read_range(data, offset, size)

    async def _read_only(self, *args: object, **kwargs: object) -> None:
        raise ReadOnly("read-only filesystem")

    create = mkdir = remove = write = rename = chmod = _read_only  # type: ignore[assignment]
    truncate = truncate_as_no_op
