"""Server-side copy over a namespace (the mount table): a file or a tree, within or across
mounts, streamed chunk by chunk from the source plugin's ``read_stream`` into the target's
``write_stream``, so no byte travels to a client and memory holds one piece at a time (plus
what the target plugin itself buffers: memfs keeps files in memory anyway, buffering plugins
are bounded by the body limit given).

Rules (as ``cp``, by exact paths):

* a file replaces a file at the target (a directory there: AlreadyExists, 409);
* a directory needs ``recursive``; its copy is created, or merged into a directory already there;
  a target inside the source is refused (it would copy itself forever);
* a file whose read has an effect (a queue's ``dequeue``, a live stream) is never read: named
  alone it is refused (InvalidArgument); inside a tree it is skipped and reported, as are
  write-only files (a queue's ``enqueue``) and symlinks (a copy never follows one in a tree,
  so a loop of links cannot trap it);
* a failure stops the copy where it is: files copied so far stay.

Within one mount the plugin's ``copy_file`` goes first (S3's CopyObject: the bytes stay in the
back end); where it has none the copy streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pfs.fs.base import REPLACE, WRITE_LIMIT, FileSystem
from pfs.fs.errors import (
    AlreadyExists,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotSupported,
)
from pfs.fs.fileinfo import FileInfo
from pfs.fs.links import LINK_TYPE
from pfs.fs.paths import join, normalize

#: How many skipped paths a report names (the count covers every one).
SKIPPED_SHOWN = 100


@dataclass
class CopyReport:
    """What a copy did: files and bytes written, and the paths it did not read."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0

    def skip(self, path: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < SKIPPED_SHOWN:
            self.skipped.append(path)


async def copy(
    fs: FileSystem, src: str, dst: str, recursive: bool = False, limit: int = WRITE_LIMIT
) -> CopyReport:
    """Copy ``src`` to ``dst`` in the namespace ``fs`` (see the module rules)."""
    source, target = normalize(src), normalize(dst)
    if source == target:
        raise InvalidArgument(f"copy: {src}: the source and the destination are the same")
    info = await fs.stat(source)
    report = CopyReport()
    if info.is_dir:
        if not recursive:
            raise IsADirectory(f"copy: {src}: is a directory (copy it with recursive)")
        if source == "/" or target.startswith(source + "/"):
            raise InvalidArgument(f"copy: {dst}: the destination is inside the source {src}")
        await _copy_tree(fs, source, target, report, limit)
        return report
    if info.read_effect:
        raise InvalidArgument(
            f"copy: {src}: reading this file has an effect ({info.read_effect.value}): "
            "it is never copied"
        )
    if await _is_dir(fs, target):
        raise AlreadyExists(f"copy: {dst}: a directory is there (name the file to create)")
    await _copy_file(fs, source, target, report, limit)
    return report


async def _copy_file(
    fs: FileSystem, source: str, target: str, report: CopyReport, limit: int
) -> None:
    try:  # inside one back end where it can (S3's CopyObject): no byte through the server
        copied = await fs.copy_file(source, target)
    except NotSupported:
        pass
    else:
        report.files += 1
        report.bytes += copied
        return
    chunks = await fs.read_stream(source)
    counted = _Counted(chunks)
    try:
        await fs.write_stream(target, counted, 0, REPLACE, limit)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    report.files += 1
    report.bytes += counted.count


async def _copy_tree(
    fs: FileSystem, source: str, target: str, report: CopyReport, limit: int
) -> None:
    """Depth-first with its own stack (no depth of directories exhausts the recursion limit)."""
    stack = [(source, target)]
    while stack:
        directory, copy_dir = stack.pop()
        await _make_dir(fs, copy_dir)
        for entry in await fs.readdir(directory):
            child, copy_child = join(directory, entry.name), join(copy_dir, entry.name)
            if _skipped(entry):
                report.skip(child)
            elif entry.is_dir:
                stack.append((child, copy_child))
            else:
                await _copy_file(fs, child, copy_child, report, limit)
                # In-memory plugins answer without ever suspending: without this a tree of
                # many small files would hold the event loop for the whole copy.
                await asyncio.sleep(0)


def _skipped(entry: FileInfo) -> bool:
    """Links, files whose read has an effect, and write-only files (a queue's ``enqueue``: a
    control file holding nothing to read)."""
    write_only = entry.mode & 0o222 and not entry.mode & 0o444
    return entry.meta.type == LINK_TYPE or bool(entry.read_effect) or bool(write_only)


async def _make_dir(fs: FileSystem, path: str) -> None:
    try:
        await fs.mkdir(path)
    except AlreadyExists:
        if not await _is_dir(fs, path):
            raise NotADirectory(f"copy: {path}: a file is there, not a directory") from None


async def _is_dir(fs: FileSystem, path: str) -> bool:
    try:
        return (await fs.stat(path)).is_dir
    except NotFound:
        return False


#: Bytes a copy moves between two yields to the event loop (a memfs→memfs copy never suspends
#: by itself).
YIELD_EVERY = 4 << 20


class _Counted:
    """The chunks of a stream, counted as they pass, with a turn of the event loop given up
    every YIELD_EVERY bytes."""

    __slots__ = ("_chunks", "count", "_next_yield")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.count = 0
        self._next_yield = YIELD_EVERY

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        if self.count >= self._next_yield:
            self._next_yield = self.count + YIELD_EVERY
            await asyncio.sleep(0)
        chunk = await self._chunks.__anext__()
        self.count += len(chunk)
        return chunk
