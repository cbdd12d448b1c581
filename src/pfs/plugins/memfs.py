"""memfs: an in-memory tree of files and directories."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pfs.fs import (
    CHUNK_SIZE,
    REPLACE,
    WRITE_LIMIT,
    AlreadyExists,
    Buffered,
    Field,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotEmpty,
    NotFound,
    PermissionDenied,
    TooLarge,
    WriteFlag,
    byte_range,
    read_range,
)
from pfs.fs.base import Expect, check_expect, written_size
from pfs.fs.paths import split_parent
from pfs.fs.turns import map_in_turns

_FILE_META = Meta("memfs", "file")
_DIR_META = Meta("memfs", "dir")

#: Default of ``max_file_size``: a write (even a sparse one far past the end) may not make a
#: file larger than this, so one request cannot make the server allocate unbounded memory.
DEFAULT_MAX_FILE_SIZE = 1 << 30

#: Reads up to this size are answered from one copy instead of a stream of slices.
SMALL_READ = 1 << 20


class Node:
    __slots__ = ("name", "is_dir", "mode", "mtime_ns", "data", "children")

    def __init__(self, name: str, is_dir: bool, mode: int) -> None:
        self.name = name
        self.is_dir = is_dir
        self.mode = mode
        self.mtime_ns = time.time_ns()
        self.data = bytearray()
        self.children: dict[str, Node] | None = {} if is_dir else None

    def info(self) -> FileInfo:
        if self.is_dir:
            return FileInfo(self.name, 0, self.mode, self.mtime_ns, True, _DIR_META)
        return FileInfo(self.name, len(self.data), self.mode, self.mtime_ns, False, _FILE_META)


class MemFS(FileSystem):
    fstype = "memfs"
    config_schema = (
        Field("init_dirs", "list", default=[], help="directories created at mount, in order"),
        Field(
            "max_file_size",
            "size",
            default=DEFAULT_MAX_FILE_SIZE,
            min=1,
            max=64 << 30,  # files live in memory
            help="largest file; writes that would grow a file past it are refused (413)",
        ),
    )
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.max_file_size: int = config["max_file_size"]
        self.root = Node("/", True, 0o755)
        readme = Node("README", False, 0o444)
        readme.data = bytearray(self.load_readme("pfs.plugins.docs", "memfs.md").encode())
        self.root.children["README"] = readme  # type: ignore[index]
        for directory in config["init_dirs"]:
            self._mkdir_p(str(directory))

    def _mkdir_p(self, path: str) -> None:
        node = self.root
        for part in path.strip("/").split("/"):
            if not part:
                continue
            child = node.children.get(part)  # type: ignore[union-attr]
            if child is None:
                child = Node(part, True, 0o755)
                node.children[part] = child  # type: ignore[index]
            if not child.is_dir:
                return
            node = child

    # -- lookup ----------------------------------------------------------------------------

    def _lookup(self, path: str) -> Node:
        node = self.root
        if path == "/":
            return node
        for part in path[1:].split("/"):
            if node.children is None:
                raise NotADirectory(f"not a directory: {path}")
            child = node.children.get(part)
            if child is None:
                raise NotFound(f"no such file or directory: {path}")
            node = child
        return node

    def _parent(self, path: str) -> tuple[Node, str]:
        if path == "/":
            raise InvalidArgument("cannot get parent of root")
        parent_path, name = split_parent(path)
        try:
            parent = self._lookup(parent_path)
        except NotFound:
            raise NotFound(f"no such file or directory: {parent_path}") from None
        if not parent.is_dir:
            raise NotADirectory(f"not a directory: {parent_path}")
        return parent, name

    # -- operations ------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        return self._lookup(path).info()

    async def readdir(self, path: str) -> list[FileInfo]:
        node = self._lookup(path)
        if node.children is None:
            raise NotADirectory(f"not a directory: {path}")
        # The snapshot keeps a big listing consistent while it is built over several loop turns.
        return await map_in_turns(Node.info, list(node.children.values()))

    async def create(self, path: str) -> None:
        parent, name = self._parent(path)
        if name in parent.children:  # type: ignore[operator]
            raise AlreadyExists(f"file already exists: {path}")
        parent.children[name] = Node(name, False, 0o644)  # type: ignore[index]
        parent.mtime_ns = time.time_ns()

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        parent, name = self._parent(path)
        if name in parent.children:  # type: ignore[operator]
            raise AlreadyExists(f"directory already exists: {path}")
        parent.children[name] = Node(name, True, mode or 0o755)  # type: ignore[index]
        parent.mtime_ns = time.time_ns()

    async def remove(self, path: str, recursive: bool = False) -> None:
        if path == "/":
            if not recursive:
                raise PermissionDenied("cannot remove root directory")
            self.root.children = {}
            return
        parent, name = self._parent(path)
        node = parent.children.get(name)  # type: ignore[union-attr]
        if node is None:
            raise NotFound(f"no such file or directory: {path}")
        if node.children and not recursive:
            raise NotEmpty(f"directory not empty: {path}")
        del parent.children[name]  # type: ignore[union-attr]
        parent.mtime_ns = time.time_ns()

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        node = self._lookup(path)
        if node.is_dir:
            raise IsADirectory(f"is a directory: {path}")
        return read_range(node.data, offset, size)

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        node = self._lookup(path)
        if node.is_dir:
            raise IsADirectory(f"is a directory: {path}")
        start, end = byte_range(len(node.data), offset, size)
        if end - start <= SMALL_READ:
            return Buffered(bytes(node.data[start:end]) if start < end else b"")
        return self._pieces(node, start, end)

    @staticmethod
    async def _pieces(node: Node, position: int, end: int) -> AsyncIterator[bytes]:
        # Slices of the live buffer, so a download holds one piece at a time, not a copy.
        while position < end:
            step = min(4 * CHUNK_SIZE, end - position)
            yield bytes(memoryview(node.data)[position : position + step])
            position += step

    def _existing(self, path: str, flags: WriteFlag) -> tuple[Node, str, Node | None]:
        """Parent, name and current node of a write's target, checked against ``flags``; a
        missing file is created only when the write is applied."""
        parent, name = self._parent(path)
        node = parent.children.get(name)  # type: ignore[union-attr]
        if node is None:
            if not flags & WriteFlag.CREATE:
                raise NotFound(f"no such file or directory: {path}")
        elif flags & WriteFlag.EXCLUSIVE:
            raise AlreadyExists(f"file already exists: {path}")
        elif node.is_dir:
            raise IsADirectory(f"is a directory: {path}")
        return parent, name, node

    def _too_large(self, size: int | str) -> TooLarge:
        return TooLarge(
            f"file would be {size} bytes, over the max_file_size of {self.max_file_size} bytes"
        )

    def _apply(self, path: str, data: bytes | bytearray, offset: int, flags: WriteFlag) -> None:
        """Check the resulting size, then create the file if needed and write: a refused write
        changes nothing and leaves no empty file behind."""
        parent, name, node = self._existing(path, flags)
        old = None if node is None else len(node.data)
        size = written_size(old, len(data), offset, flags)
        if size > self.max_file_size:
            raise self._too_large(size)
        if node is None:
            node = Node(name, False, 0o644)
            parent.children[name] = node  # type: ignore[index]
            parent.mtime_ns = time.time_ns()
        if flags & WriteFlag.TRUNCATE:
            if offset > 0 and not flags & WriteFlag.APPEND:
                data = bytearray(offset) + data
            node.data = data if isinstance(data, bytearray) else bytearray(data)
        else:
            buf = node.data
            if flags & WriteFlag.APPEND:
                offset = len(buf)
            if offset > len(buf):
                buf.extend(bytes(offset - len(buf)))
            buf[offset : offset + len(data)] = data
        node.mtime_ns = time.time_ns()

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        self._apply(path, data, max(offset, 0), flags)
        return ""

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        # memfs keeps the data anyway, so the server's buffering limit does not apply (its own
        # max_file_size does). The body is gathered whole and applied only once complete, so an
        # abandoned upload changes nothing and a replacement swaps its buffer in without a copy.
        self._existing(path, flags)  # refuse a missing parent or an exclusive clash up front
        offset = max(offset, 0)
        self._apply(path, await self._gather(chunks, offset, flags), offset, flags)
        return ""

    async def _gather(
        self, chunks: AsyncIterator[bytes], offset: int, flags: WriteFlag
    ) -> bytearray:
        base = 0 if flags & WriteFlag.APPEND else offset
        buf = bytearray()
        async for chunk in chunks:
            buf += chunk
            if base + len(buf) > self.max_file_size:
                raise self._too_large(f"more than {self.max_file_size}")
        return buf

    def _check(self, path: str, expect: Expect) -> None:
        try:
            node: Node | None = self._lookup(path)
        except NotFound:
            node = None
        check_expect(expect, None if node is None else node.info())

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        # Checked before the body is taken (an early 412) and again when it applies: that check
        # and the change run in one step of the event loop, so no other change comes between.
        self._check(path, expect)
        self._existing(path, flags)
        offset = max(offset, 0)
        buf = await self._gather(chunks, offset, flags)
        self._check(path, expect)
        self._apply(path, buf, offset, flags)
        return ""

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        self._check(path, expect)
        await self.remove(path, recursive)  # never yields: still the same step

    async def rename(self, old: str, new: str) -> None:
        if old == "/" or new == "/":
            raise PermissionDenied("cannot rename root directory")
        if new == old:
            return
        if new.startswith(old + "/"):
            raise InvalidArgument(f"invalid argument newPath: cannot move {old} into itself")
        src_parent, src_name = self._parent(old)
        node = src_parent.children.get(src_name)  # type: ignore[union-attr]
        if node is None:
            raise NotFound(f"no such file or directory: {old}")
        dst_parent, dst_name = self._parent(new)
        if dst_name in dst_parent.children:  # type: ignore[operator]
            raise AlreadyExists(f"file already exists: {new}")
        del src_parent.children[src_name]  # type: ignore[union-attr]
        node.name = dst_name
        dst_parent.children[dst_name] = node  # type: ignore[index]
        now = time.time_ns()
        src_parent.mtime_ns = dst_parent.mtime_ns = now

    async def chmod(self, path: str, mode: int) -> None:
        self._lookup(path).mode = mode

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        self._lookup(path).mtime_ns = mtime_ns

    async def truncate(self, path: str, size: int) -> None:
        node = self._lookup(path)
        if node.is_dir:
            raise IsADirectory(f"is a directory: {path}")
        if size > self.max_file_size:
            raise self._too_large(size)
        if size <= len(node.data):
            del node.data[size:]
        else:
            # One zeroed allocation (calloc: pages untouched until written) instead of a copy
            # of the zeros, then the old bytes copied in.
            grown = bytearray(size)
            grown[: len(node.data)] = node.data
            node.data = grown
        node.mtime_ns = time.time_ns()
