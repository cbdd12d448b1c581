"""The FileSystem contract every plugin implements (built-in, native, WASM, entry point, proxy).

Primitives raise :class:`~pfs.fs.errors.NotSupported` by default. Derived operations (streams,
ranged writes) are built on primitives and overridden only by plugins that do better; no default
calls another default.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pfs.fs.config import Field
from pfs.fs.errors import FSError, IsADirectory, NotSupported, PreconditionFailed, TooLarge
from pfs.fs.events import EventHub
from pfs.fs.fileinfo import FileInfo, Meta
from pfs.fs.traffic import Traffic

if TYPE_CHECKING:
    from pfs.fs.handles import FileHandle, OpenFlag

#: Size of the pieces a stream hands out.
CHUNK_SIZE = 64 * 1024

#: How many bytes ``write_stream`` takes by default before refusing the body as too large.
WRITE_LIMIT = 64 << 20


class WriteFlag(enum.IntFlag):
    """How a write treats existing content (mirrors ``open(2)``)."""

    NONE = 0
    APPEND = 1
    CREATE = 2
    EXCLUSIVE = 4
    TRUNCATE = 8

    # enum.Flag makes every result of & and | through the enum machinery (~0.4 µs each on 3.11,
    # several per write): the 16 combinations are made once and looked up instead.
    def __and__(self, other: int) -> WriteFlag:
        if not isinstance(other, int):
            return NotImplemented
        return _COMBINATIONS[int.__and__(self, other)]

    __rand__ = __and__

    def __or__(self, other: int) -> WriteFlag:
        if not isinstance(other, int):
            return NotImplemented
        value = int.__or__(self, other)
        return _COMBINATIONS[value] if 0 <= value < 16 else enum.IntFlag.__or__(self, other)

    __ror__ = __or__


_COMBINATIONS = tuple(WriteFlag(value) for value in range(16))

#: What a plain ``PUT /files`` without ``offset`` or ``flags`` means: create or replace.
REPLACE = WriteFlag.CREATE | WriteFlag.TRUNCATE


def replaces(offset: int, flags: WriteFlag) -> bool:
    """Whether a write swaps in whole new content (which a plugin can stage and switch to
    atomically) rather than changing the file in place."""
    return (
        offset <= 0
        and bool(flags & WriteFlag.TRUNCATE)
        and not flags & (WriteFlag.APPEND | WriteFlag.EXCLUSIVE)
    )


def written_size(old_size: int | None, length: int, offset: int, flags: WriteFlag) -> int:
    """The size a file of ``old_size`` bytes (None: missing) has after writing ``length`` bytes at
    ``offset`` with ``flags``: what a plugin checks against its size limit before allocating."""
    old = 0 if old_size is None or flags & WriteFlag.TRUNCATE else old_size
    if flags & WriteFlag.APPEND:
        return old + length
    return max(old, max(offset, 0) + length)


def apply_write(old: bytes | bytearray | None, data: bytes, offset: int, flags: WriteFlag) -> bytes:
    """New content of a file after writing ``data`` at ``offset`` with ``flags``.

    For plugins that keep whole values (kvfs, sqlfs): a gap past the end is filled with NULs.
    """
    if old is None or flags & WriteFlag.TRUNCATE:
        old = b""
    if flags & WriteFlag.APPEND:
        offset = len(old)
    if offset <= 0 and not old:
        return bytes(data)
    if offset > len(old):
        return bytes(old) + b"\x00" * (offset - len(old)) + data
    return bytes(old[:offset]) + data + bytes(old[offset + len(data) :])


def byte_range(length: int, offset: int, size: int) -> tuple[int, int]:
    """``(start, end)`` of ``read(offset, size)`` in content of ``length`` bytes, by the
    original's common range rule: negative offset → 0, ``size < 0`` → to the end; past the end
    the range is empty (``start >= end``)."""
    start = max(offset, 0)
    return start, length if size < 0 else min(start + size, length)


async def resized(kept: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The content of a file truncated or zero-extended to ``size`` bytes, as a stream: the
    ``kept`` chunks (the old content's first ``min(old size, size)`` bytes), then zeros up to
    ``size``. For plugins that rewrite a whole value to truncate it (sqlfs, s3fs)."""
    total = 0
    async for chunk in kept:
        total += len(chunk)
        yield chunk
    while total < size:
        step = min(CHUNK_SIZE * 16, size - total)
        total += step
        yield bytes(step)


def read_range(data: bytes | bytearray | memoryview, offset: int, size: int) -> bytes:
    """The bytes of ``read(offset, size)`` in ``data`` (see :func:`byte_range`)."""
    start, end = byte_range(len(data), offset, size)
    return bytes(data[start:end]) if start < end else b""


class Buffered:
    """A read stream whose bytes are all in hand already.

    The server answers it with one plain response instead of a chunked stream, and the mount
    table need not track it as in flight: this keeps small reads cheap.
    """

    __slots__ = ("data", "_position")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._position = 0

    def __aiter__(self) -> Buffered:
        return self

    async def __anext__(self) -> bytes:
        start = self._position
        if start >= len(self.data):
            raise StopAsyncIteration
        self._position = start + CHUNK_SIZE
        return self.data[start : start + CHUNK_SIZE]

    async def aclose(self) -> None:
        self._position = len(self.data)


class Expect(Protocol):
    """What a conditional change (``write_if``, ``remove_if``) needs of the file it changes.

    The server builds it from ``If-Match`` and its kin (:mod:`pfs.http.conditional`); a plugin
    only asks it about the file's state at the moment the change applies, so it needs to know
    nothing of ETags. ``str()`` names the condition for the 412 message.
    """

    def holds(self, info: FileInfo | None) -> bool:
        """Whether the change may go ahead on a file in state ``info`` (None: no such file)."""
        ...


def check_expect(expect: Expect, info: FileInfo | None) -> None:
    """Raise PreconditionFailed unless ``expect`` holds for ``info``, the file's state."""
    if not expect.holds(info):
        state = "does not exist" if info is None else "has changed"
        # No path here: the mount table puts the full one in front (FSError.at).
        raise PreconditionFailed(f"precondition failed: {expect} (the file {state})")


@dataclass(frozen=True)
class MountContext:
    """What the mount table tells a plugin instance it mounts, before ``start``."""

    path: str
    #: The whole namespace (the mount table): for plugins that serve other mounts' files (httpfs).
    namespace: FileSystem
    #: The server's counters of file bytes sent and received (serverinfofs shows them).
    traffic: Traffic | None = None
    #: Where the plugin tells of changes it learns of from outside the server (localfs).
    events: EventHub | None = None


class FileSystem:
    """One mounted plugin instance.

    Subclasses set ``fstype``, ``config_schema`` and, when they serve their documentation at
    ``/README``, ``readme`` (answered with :meth:`readme_info` and ``read_range(self.readme, …)``).
    The server validates the config against ``config_schema`` and passes the result (defaults filled
    in, plus ``mount_path``) to ``__init__``; ``start`` runs before the mount is visible and
    ``shutdown`` after it is removed and idle.
    """

    fstype: ClassVar[str] = ""
    config_schema: ClassVar[tuple[Field, ...]] = ()
    #: Whether ``write`` can take ``offset``/``flags`` other than a full replacement.
    random_write: ClassVar[bool] = False
    #: Whether the plugin stores symlinks itself (``symlink``/``readlink``, and LinkInPath
    #: raised where a path crosses one); otherwise the mount table keeps them.
    stores_links: ClassVar[bool] = False
    #: Whether the mount point itself is a file (httpfs: its status), so that the listing of
    #: the directory holding the mount shows a file, as ``stat`` of the mount point does.
    root_is_file: ClassVar[bool] = False

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        """Whether a mount with this validated ``config`` keeps its state in an engine outside
        the server (a database server, an object store, another server), so that several
        servers mounting it serve the same data; False (the default): the state lives in this
        process or on this machine's disk, one copy per server."""
        return False

    #: Set by the mount table before ``start``; None while the instance is not mounted.
    context: MountContext | None = None

    #: The plugin's documentation served at ``/README`` (see ``load_readme``).
    readme: bytes = b""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def load_readme(cls, package: str, name: str = "README.md") -> str:
        """The README text shipped as package data beside the plugin module."""
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")

    def readme_info(self) -> FileInfo:
        """The ``/README`` entry of ``readme``: read-only, of kind ``doc``."""
        return FileInfo("README", len(self.readme), 0o444, meta=Meta(self.fstype, "doc"))

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to backends, create initial state. Errors abort the mount."""

    async def end_streams(self) -> None:
        """The mount is being removed: end live streams (``open_stream`` readers that would
        otherwise never finish) so their requests complete and the unmount need not wait for
        them. Called once, before the drain that precedes ``shutdown``."""

    async def shutdown(self) -> None:
        """Release everything; called once, after the last in-flight request finished."""

    def queue_depths(self) -> dict[str, int] | None:
        """Messages waiting per queue (name → count), for the server's metrics at scrape time:
        only where the plugin knows them without I/O, in O(1) a queue; else None (the default).
        Called from a worker thread: copy shared dicts in one step (``list(d.items())``)."""
        return None

    # -- primitives ------------------------------------------------------------------------

    async def create(self, path: str) -> None:
        """Create an empty file. Raises AlreadyExists, NotFound (parent)."""
        raise NotSupported(f"create: {path}: operation not supported by {self.fstype}")

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        """Create one directory level. Raises AlreadyExists, NotFound (parent)."""
        raise NotSupported(f"mkdir: {path}: operation not supported by {self.fstype}")

    async def remove(self, path: str, recursive: bool = False) -> None:
        """Remove a file or directory (its subtree too when ``recursive``). Raises NotEmpty."""
        raise NotSupported(f"remove: {path}: operation not supported by {self.fstype}")

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        """Up to ``size`` bytes from ``offset`` (``size < 0``: to the end). EOF is not an error."""
        raise NotSupported(f"read: {path}: operation not supported by {self.fstype}")

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        """Write ``data``; returns the plugin's answer text (e.g. a queue message id) or ``""``.

        Plugins without ``random_write`` accept only a whole replacement and raise NotSupported
        for other offsets/flags.
        """
        raise NotSupported(f"write: {path}: operation not supported by {self.fstype}")

    async def readdir(self, path: str) -> list[FileInfo]:
        """Entries of a directory. Raises NotFound, NotADirectory."""
        raise NotSupported(f"readdir: {path}: operation not supported by {self.fstype}")

    async def stat(self, path: str) -> FileInfo:
        """Info of one entry. Raises NotFound."""
        raise NotSupported(f"stat: {path}: operation not supported by {self.fstype}")

    async def rename(self, old: str, new: str) -> None:
        """Move within this plugin. Raises NotFound, AlreadyExists."""
        raise NotSupported(f"rename: {old}: operation not supported by {self.fstype}")

    async def chmod(self, path: str, mode: int) -> None:
        """Set permission bits."""
        raise NotSupported(f"chmod: {path}: operation not supported by {self.fstype}")

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set the modification time of a file or directory (nanoseconds since the epoch),
        natively: never by reading and rewriting the content. Raises NotFound."""
        raise NotSupported(f"touch: {path}: operation not supported by {self.fstype}")

    async def truncate(self, path: str, size: int) -> None:
        """Cut a file to ``size`` bytes or extend it with zero bytes, without reading more of it
        than it keeps. Plugins whose files are not byte sequences (queues, streams, generated
        files) accept it as a no-op, so an ``O_TRUNC`` open before a write works there.
        Raises NotFound, IsADirectory, TooLarge (``size`` past the plugin's limit)."""
        raise NotSupported(f"truncate: {path}: operation not supported by {self.fstype}")

    async def symlink(self, path: str, target: str) -> None:
        """Store a symbolic link at ``path`` leading to ``target``, a path of this plugin (the
        mount table checked it). Plugins that cannot store links leave this unsupported and the
        mount table keeps the link itself. Raises AlreadyExists, NotFound (parent)."""
        raise NotSupported(f"symlink: {path}: operation not supported by {self.fstype}")

    async def readlink(self, path: str) -> str:
        """The path of this plugin a link stored by :meth:`symlink` leads to. Raises NotFound,
        InvalidArgument (not a link), PermissionDenied (a link leading out of the plugin)."""
        raise NotSupported(f"readlink: {path}: operation not supported by {self.fstype}")

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """``write_stream`` as a compare-and-swap: applied only if ``expect`` holds for the file's
        state at the moment the new content replaces the old (:func:`check_expect`), atomically
        against every other change through this server, and against other writers as far as
        the back end allows (each plugin documents how far). Raises PreconditionFailed with
        nothing changed. Plugins that cannot check and change in one step leave it unsupported
        (501) rather than check first and write later.
        """
        raise NotSupported(
            f"conditional write: {path}: not supported by {self.fstype} "
            "(it cannot compare and write in one step)"
        )

    async def copy_file(self, src: str, dst: str) -> int:
        """Copy the file ``src`` to ``dst`` (created or replaced, as a write) inside the back end,
        the bytes never passing through the server (S3's CopyObject); returns the bytes copied.
        The default, NotSupported, has the caller stream the copy instead (read_stream into
        write_stream), which is what a plugin wants where its back end cannot do better."""
        raise NotSupported(f"copy: {src}: no copy inside {self.fstype}")

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        """``remove`` as a compare-and-swap (see :meth:`write_if`)."""
        raise NotSupported(
            f"conditional remove: {path}: not supported by {self.fstype} "
            "(it cannot compare and remove in one step)"
        )

    async def read_waiting(self, path: str, seconds: float, gone: asyncio.Event) -> bytes:
        """``read(path)`` of a file that may have nothing yet (a queue's ``dequeue`` and
        ``peek``): wait up to ``seconds`` for something, then answer as ``read`` would. Once
        ``gone`` is set the client left: take nothing more (and put back what was taken)."""
        raise NotSupported(
            f"read: {path}: {self.fstype} has nothing to wait for (wait= is for a queue's "
            "dequeue and peek)"
        )

    # -- derived ---------------------------------------------------------------------------

    async def open_handle(self, path: str, flags: OpenFlag, mode: int = 0o644) -> FileHandle:
        """Open ``path`` for ``/api/v1/handles`` (see :mod:`pfs.fs.handles`).

        The default is the generic :class:`~pfs.fs.handles.FileAdapter`. Opening for writing
        needs ``random_write``: a plugin that only replaces whole files refuses it (501, on which
        FUSE clients fall back to whole-file writes) unless it overrides this with handles whose
        writes make sense on their own (a queue's messages, a stream's chunks).
        """
        from pfs.fs.handles import FileAdapter, writable  # handles builds on this module

        if writable(flags) and not self.random_write:
            raise NotSupported(
                f"openhandle: {path}: operation not supported: {self.fstype} writes whole files "
                "only (open for reading, or write the whole file with PUT /files)"
            )
        return await FileAdapter.open(self, path, flags, mode)


    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        """Open ``path`` for reading and return the bytes of ``read(path, offset, size)`` as an
        iterator of chunks. Opening errors (NotFound, IsADirectory) raise here, not mid-stream.

        The default reads once (so control files such as a queue's ``dequeue`` are consumed
        exactly once); plugins holding large data override it to stream in pieces.
        """
        return Buffered(await self.read(path, offset, size))

    async def read_stream_with_info(
        self, path: str, offset: int = 0, size: int = -1
    ) -> tuple[FileInfo | None, AsyncIterator[bytes]]:
        """``stat(path)`` (None where it fails) and then ``read_stream(path, offset, size)``: what
        a plain GET needs, the info for its validators (ETag, Last-Modified) and the bytes.

        The default makes the two calls. A plugin whose every call costs a round trip of its own
        (a WASM instance on its thread) overrides it to make both in one.
        """
        try:
            info: FileInfo | None = await self.stat(path)
        except FSError:
            info = None  # the read answers: its own error, or the bytes
        return info, await self.read_stream(path, offset, size)

    async def open_stream(self, path: str) -> AsyncIterator[bytes]:
        """A live stream (``GET /files?stream=true``); the default is the whole file once."""
        return await self.read_stream(path)

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """Consume ``chunks`` and write them; the default buffers up to ``limit`` bytes.

        Raises:
            TooLarge: the body exceeded ``limit`` (nothing was written).
        """
        parts: list[bytes] = []
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise TooLarge(
                    f"write: {path}: request body exceeds the limit of {limit} bytes "
                    f"for {self.fstype}"
                )
            parts.append(chunk)
        return await self.write(path, b"".join(parts), offset, flags)


async def truncate_as_no_op(fs: FileSystem, path: str, size: int) -> None:
    """``truncate`` for plugins whose files are not byte sequences (a queue's control files,
    generated files): accepted and ignored once ``stat`` finds a file there, so the truncating
    open of a shell's ``>`` or FUSE's ``O_TRUNC`` works before the write that follows. Reads
    nothing. Assign it in the class body: ``truncate = truncate_as_no_op``."""
    if (await fs.stat(path)).is_dir:
        raise IsADirectory(f"is a directory: {path}")
