"""streamrotatefs: streamfs's live streams, with every written piece also kept in rotating files
under any path of the namespace (``output_path``: a memfs, localfs, s3fs … directory).

Each stream writes one file at a time, named by ``filename_pattern``; a new file starts when the
current one would pass ``rotation_size`` or is ``rotation_interval`` old. A piece is written to
the file before readers see it, and a write whose piece cannot be kept fails (nothing is
published), so the files hold exactly what the stream carried.

Targets that append (memfs, localfs, sqlfs, kvfs, proxyfs) get each piece as it is written.
Targets that only take whole files (s3fs) get each file whole when it is rotated, the stream
removed or the mount ended; meanwhile its bytes are held in memory, at most ``STAGED_LIMIT``
(a file that would pass it is rotated early).

The mount table hands the plugin the namespace at construction (:class:`MountContext`), so
mounts made by ``POST /mount`` write like configured ones (AGFS's runtime mounts cannot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from pfs.fs import (
    WRITE_LIMIT,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    FSError,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    Unavailable,
    WriteFlag,
    normalize,
)
from pfs.plugins.streams import LiveStreams, Stream, buffer_fields

log = logging.getLogger("pfs.plugins.streamrotatefs")

DEFAULT_PATTERN = "{channel}_{timestamp}.dat"
DEFAULT_ROTATION_SIZE = 100 << 20
#: Most bytes of one file held in memory for a target that takes whole files only.
STAGED_LIMIT = WRITE_LIMIT
#: Most ``.1``, ``.2`` … suffixes tried when a file name is taken.
_MAX_SUFFIX = 1000
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_VARIABLES = ("channel", "timestamp", "date", "time", "datetime", "index")


def file_name(pattern: str, channel: str, index: int, now: float) -> str:
    """``pattern`` with its variables filled in (local time of the server)."""
    local = time.localtime(now)
    values = {
        "channel": channel,
        "timestamp": str(int(now)),
        "date": time.strftime("%Y%m%d", local),
        "time": time.strftime("%H%M%S", local),
        "datetime": time.strftime("%Y%m%d_%H%M%S", local),
        "index": f"{index:06d}",
    }
    return _VARIABLE.sub(lambda m: values[m.group(1)], pattern)


def threshold_text(size: int) -> str:
    """A rotation size as AGFS shows it in stat (``100.0MB``, ``512B``, ``0B``)."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f}{unit}"
    return f"{size}B"


class Rotation:
    """The file one stream is writing: its namespace path, size and how it takes bytes."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.path = ""
        self.size = 0
        self.opened = 0.0
        #: Files opened so far (the next file's ``{index}``).
        self.count = 0
        #: Bytes held for a target that takes whole files only; None while appending.
        self.staged: list[bytes] | None = None


class StreamRotateFS(LiveStreams):
    fstype = "streamrotatefs"
    config_schema = (
        *buffer_fields(),
        Field(
            "output_path",
            "string",
            required=True,
            help="namespace directory the rotated files go to (e.g. /s3fs/logs)",
        ),
        Field(
            "filename_pattern",
            "string",
            default=DEFAULT_PATTERN,
            help="file name; {channel} {timestamp} {date} {time} {datetime} {index}",
        ),
        Field(
            "rotation_size",
            "size",
            default=DEFAULT_ROTATION_SIZE,
            min=0,
            max=1 << 40,
            help="start a new file before one would pass this size (0: never)",
        ),
        Field(
            "rotation_interval",
            "duration",
            min=0,
            max=366 * 86400,
            help="start a new file when one is this old (e.g. 1h; unset or 0: never)",
        ),
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        output = config["output_path"]
        if not output.startswith("/"):
            raise InvalidArgument(
                f"{self.fstype}: output_path must be a PFS path (must start with /), "
                f"got {output!r}"
            )
        self.output_path = normalize(output)
        self.pattern: str = config["filename_pattern"]
        self._check_pattern(self.pattern)
        self.rotation_size: int = config["rotation_size"]
        self.rotation_interval: float = config["rotation_interval"] or 0.0
        self.rotations: dict[str, Rotation] = {}
        self.readme = self.load_readme("pfs.plugins.docs", "streamrotatefs.md").encode()
        self._sweeper: asyncio.Task[None] | None = None

    def _check_pattern(self, pattern: str) -> None:
        unknown = [name for name in _VARIABLE.findall(pattern) if name not in _VARIABLES]
        if unknown:
            raise InvalidArgument(
                f"{self.fstype}: filename_pattern has unknown variable {{{unknown[0]}}} "
                f"(known: {', '.join('{' + v + '}' for v in _VARIABLES)})"
            )
        sample = file_name(pattern, "channel", 0, 0)
        if sample.startswith("/") or ".." in sample.split("/") or sample.endswith("/"):
            raise InvalidArgument(
                f"{self.fstype}: filename_pattern must name a file below output_path, "
                f"got {pattern!r}"
            )

    @property
    def namespace(self) -> FileSystem:
        if self.context is None:
            raise Unavailable(f"{self.fstype}: not mounted, so there is nowhere to write files")
        return self.context.namespace

    async def start(self) -> None:
        mount = self.context.path if self.context is not None else ""
        if mount and (self.output_path == mount or self.output_path.startswith(mount + "/")):
            raise InvalidArgument(
                f"{self.fstype}: output_path {self.output_path} is inside this mount ({mount}); "
                "choose a path of another mount"
            )
        if self.rotation_interval:
            self._sweeper = asyncio.create_task(self._sweep())

    async def end_streams(self) -> None:
        await super().end_streams()
        await self._close_all()

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await super().shutdown()
        await self._close_all()
        self.rotations.clear()

    async def _close_all(self) -> None:
        for name, rotation in list(self.rotations.items()):
            async with rotation.lock:
                try:
                    await self._close_file(rotation)
                except FSError as exc:
                    log.error("%s %s: closing %s failed: %s", self.fstype, name, rotation.path, exc)

    async def _sweep(self) -> None:
        """Close files older than ``rotation_interval`` even while their stream is idle, so a
        whole-file target receives them in time; the next piece opens a new file."""
        period = min(max(self.rotation_interval / 4, 0.01), 1.0)
        while True:
            await asyncio.sleep(period)
            for name, rotation in list(self.rotations.items()):
                if rotation.path and self._expired(rotation) and not rotation.lock.locked():
                    async with rotation.lock:
                        if not (rotation.path and self._expired(rotation)):
                            continue
                        try:
                            await self._close_file(rotation)
                        except FSError as exc:  # kept staged: the next write retries
                            log.error("%s %s: rotating %s failed: %s",
                                      self.fstype, name, rotation.path, exc)

    def _expired(self, rotation: Rotation) -> bool:
        return bool(self.rotation_interval) and (
            time.monotonic() - rotation.opened >= self.rotation_interval
        )

    # -- the stream core's hooks -------------------------------------------------------------

    async def publish(self, stream: Stream, data: bytes | memoryview) -> None:
        if stream.closed:
            raise PermissionDenied(f"stream is closed: {stream.name}")
        if not data:
            return
        rotation = self.rotations.get(stream.name)
        if rotation is None:
            rotation = self.rotations[stream.name] = Rotation()
        async with rotation.lock:
            await self._keep(stream, rotation, bytes(data))
            stream.publish(data)

    def info(self, stream: Stream) -> FileInfo:
        rotation = self.rotations.get(stream.name) or Rotation()
        return stream.info(
            self.fstype,
            "rotate-stream",
            {
                "current_file": rotation.path,
                "current_file_size": str(rotation.size),
                "rotation_file_idx": str(rotation.count),
                "rotation_threshold": threshold_text(self.rotation_size),
            },
        )

    async def forget(self, stream: Stream) -> None:
        rotation = self.rotations.pop(stream.name, None)
        if rotation is not None:
            async with rotation.lock:
                await self._close_file(rotation)

    # -- rotation files ----------------------------------------------------------------------

    async def _keep(self, stream: Stream, rotation: Rotation, data: bytes) -> None:
        """Write ``data`` to the stream's current file, rotating first where due."""
        if rotation.path:
            over_size = self.rotation_size and rotation.size + len(data) > self.rotation_size
            over_staged = (
                rotation.staged is not None and rotation.size + len(data) > STAGED_LIMIT
            )
            if rotation.size and (over_size or over_staged) or self._expired(rotation):
                await self._close_file(rotation)
        if not rotation.path:
            await self._open_file(stream, rotation)
        if rotation.staged is None:
            try:
                await self.namespace.write(rotation.path, data, 0, WriteFlag.APPEND)
            except NotSupported:
                rotation.staged = []  # a whole-file target: keep the file's bytes until it ends
            except FSError as exc:
                raise self._failed("write rotation file", rotation.path, exc) from exc
        if rotation.staged is not None:
            rotation.staged.append(data)
        rotation.size += len(data)

    async def _open_file(self, stream: Stream, rotation: Rotation) -> None:
        channel = stream.name.rsplit("/", 1)[-1]
        now = time.time()
        base = posixpath.join(
            self.output_path, file_name(self.pattern, channel, rotation.count, now)
        )
        namespace = self.namespace
        try:
            await self._make_parents(posixpath.dirname(base))
            path = base
            for suffix in range(_MAX_SUFFIX + 1):
                path = f"{base}.{suffix}" if suffix else base
                try:
                    await namespace.create(path)
                    break
                except AlreadyExists:
                    continue
            else:
                raise AlreadyExists(f"{base} and {base}.1 … {base}.{_MAX_SUFFIX} all exist")
        except FSError as exc:
            raise self._failed("create rotation file", base, exc) from exc
        rotation.path = path
        rotation.size = 0
        rotation.opened = time.monotonic()
        rotation.count += 1
        rotation.staged = None

    async def _make_parents(self, directory: str) -> None:
        namespace = self.namespace
        try:
            if (await namespace.stat(directory)).is_dir:
                return
        except NotFound:
            pass
        if directory != "/":
            await self._make_parents(posixpath.dirname(directory))
        with contextlib.suppress(AlreadyExists):
            await namespace.mkdir(directory)

    async def _close_file(self, rotation: Rotation) -> None:
        """End the current file: a whole-file target receives it now. On failure the bytes stay
        staged and the file current, so the next write or sweep tries again."""
        if not rotation.path:
            return
        if rotation.staged:
            staged = rotation.staged

            async def pieces() -> AsyncIterator[bytes]:
                for piece in staged:
                    yield piece

            try:
                await self.namespace.write_stream(
                    rotation.path, pieces(), limit=STAGED_LIMIT + (1 << 20)
                )
            except FSError as exc:
                raise self._failed("write rotation file", rotation.path, exc) from exc
        rotation.path = ""
        rotation.size = 0
        rotation.staged = None

    def _failed(self, what: str, path: str, exc: FSError) -> FSError:
        # The target's "not found" is not the stream's: the output path cannot take files now.
        if isinstance(exc, NotFound):
            return Unavailable(f"failed to {what} {path}: {exc}")
        return exc.with_context(f"failed to {what} {path}")
