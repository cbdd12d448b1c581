"""queuefs: message queues as directories with control files (``enqueue``, ``dequeue``...).

Backends live in sibling modules (memory, sqlite, mysql) behind
:class:`~pfs.plugins.queuefs.backend.QueueBackend`. This module holds the path grammar and the
file semantics, identical on every backend.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pfs.engines import ENGINE_BACKENDS, ENGINE_CONFIG_FIELDS
from pfs.fs import (
    REPLACE,
    Field,
    FileAdapter,
    FileHandle,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    NotSupported,
    OpenFlag,
    PermissionDenied,
    ReadEffect,
    TooLarge,
    WriteFlag,
    read_range,
)
from pfs.fs.base import truncate_as_no_op
from pfs.fs.events import ECHO_SETTLE
from pfs.plugins.queuefs import layout
from pfs.plugins.queuefs.agfs import no_in_flight_state
from pfs.plugins.queuefs.backend import EMPTY, Message, QueueBackend
from pfs.plugins.queuefs.waiting import Wakeups, wait_for_message
from pfs.sql import SQL_CONFIG_FIELDS, backend_field, backend_is_shared

log = logging.getLogger("pfs.plugins.queuefs")

#: The original's control files, in its listing order, then the at-least-once ones.
CONTROL_FILES = ("enqueue", "dequeue", "peek", "size", "clear", "ack", "visibility_timeout")
_WRITE_ONLY = {"enqueue", "clear", "ack"}
_READ_ONLY = {"dequeue", "peek", "size"}
#: Longest queue name the SQL backends can index (VARCHAR(255)); every backend enforces it.
MAX_NAME_CHARS = 255
#: Longest visibility timeout accepted (12 hours, as SQS).
MAX_VISIBILITY = 43200.0


class MessageNotInFlight(NotFound):
    """An ack names no message in flight: the file exists, the id does not (404 all the same)."""

    summary = None


def _control_info(name: str, size: int = 0, mtime_ns: int | None = None) -> FileInfo:
    mode = 0o222 if name in _WRITE_ONLY else 0o444 if name in _READ_ONLY else 0o644
    kind = "status" if name in ("size", "visibility_timeout") else "control"
    info = FileInfo(name, size, mode, meta=Meta("queuefs", kind))
    if name == "dequeue":
        info.read_effect = ReadEffect.CONSUMES
    if mtime_ns is not None:
        info.mtime_ns = mtime_ns
    return info


def _queue_info(name: str) -> FileInfo:
    return FileInfo(name, 0, 0o755, is_dir=True, meta=Meta("queuefs", "queue"))


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


class QueueFS(FileSystem):
    fstype = "queuefs"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return backend_is_shared(config["backend"])

    config_schema = (
        backend_field("where messages live", ENGINE_BACKENDS),
        *SQL_CONFIG_FIELDS,
        *ENGINE_CONFIG_FIELDS,
        Field(
            "max_deliveries",
            "int",
            default=0,
            min=0,
            help="nats: deliveries of a message before it moves to the dead-letter subject "
            "(0: no limit)",
        ),
        layout.LAYOUT_FIELD,
        Field(
            "visibility_timeout",
            "number",
            default=0,
            min=0,
            max=MAX_VISIBILITY,
            help="seconds a dequeued message stays in flight until acked (0: destructive read)",
        ),
        Field(
            "poll_interval",
            "number",
            default=0.2,
            min=0.01,
            max=60,
            help="seconds between looks of a blocking dequeue for messages other servers added "
            "(enqueues through this mount wake it at once)",
        ),
        Field(
            "max_message_size",
            "size",
            default=16 << 20,
            min=1,
            max=1 << 30,
            help="largest message accepted",
        ),
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.readme = self.load_readme("pfs.plugins.docs", "queuefs.md").encode()
        self.backend_name = config["backend"]
        self.default_visibility = float(config["visibility_timeout"])
        self.max_message_size = int(config["max_message_size"])
        self.layout = config["layout"]
        # The memory backend has no other writers: its polls only find expired visibilities.
        self.poll = 1.0 if self.backend_name == "memory" else float(config["poll_interval"])
        self.wakeups = Wakeups()
        self.sql = self.backend_name not in ("memory", *ENGINE_BACKENDS)
        if not self.sql and self.layout == "agfs":
            raise InvalidArgument("queuefs: layout agfs needs a sqlite or mysql backend")
        self.backend: QueueBackend = layout.build(
            self.backend_name, "agfs" if self.layout == "agfs" else "pfs", config
        )

    def queue_depths(self) -> dict[str, int] | None:
        return self.backend.depths()

    async def start(self) -> None:
        if self.layout == "auto" and self.sql:
            self.layout = await layout.detect(self.backend_name, self.config)
            if self.layout == "agfs":
                self.backend = layout.build(self.backend_name, "agfs", self.config)
            log.info("queuefs: %s database in the %s layout", self.backend_name, self.layout)
        if self.context is not None and self.context.events is not None:
            self.backend.on_enqueue = self._told_enqueue
        if self.default_visibility > 0 and not self.backend.at_least_once:
            raise InvalidArgument(
                "queuefs: visibility_timeout needs layout pfs (AGFS's layout keeps no "
                "in-flight state)"
            )
        await self.backend.start()

    def _told_enqueue(self, queue: str) -> None:
        """An enqueue by any server, as the backend heard of it: told to watchers of the queue's
        ``enqueue`` as an outside write, a moment later so the hub knows this server's own
        enqueue by then and drops its echo."""
        context = self.context
        if context is None or context.events is None or not context.events.watching(context.path):
            return
        path = f"{context.path}/{queue}/enqueue"
        events = context.events
        asyncio.get_running_loop().call_later(
            ECHO_SETTLE, lambda: events.publish("write", path, outside=True)
        )

    async def end_streams(self) -> None:
        self.wakeups.close()

    async def shutdown(self) -> None:
        await self.backend.close()

    # -- path grammar --------------------------------------------------------------------------

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        """(queue name, control file or ``""``) of a mount-relative path."""
        parts = [p for p in path.split("/") if p]
        if parts and parts[-1] in CONTROL_FILES:
            if len(parts) == 1:
                raise InvalidArgument("invalid path: operation without queue name")
            return _check_name("/".join(parts[:-1])), parts[-1]
        return "/".join(parts), ""

    def _split_control(self, path: str) -> tuple[str, str]:
        """``_split`` for reads and writes, which only control files take."""
        queue, control = self._split(path)
        if not control:
            raise IsADirectory(f"is a directory: {path}")
        return queue, control

    async def _visibility(self, queue: str) -> float:
        own = await self.backend.get_visibility(queue)
        return self.default_visibility if own is None else own

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/README":
            return read_range(self.readme, offset, size)
        queue, control = self._split_control(path)
        if control in _WRITE_ONLY:
            raise PermissionDenied(f"permission denied: {path} is write-only")
        if control == "dequeue":
            if offset > 0 or size >= 0:
                # A part would consume the whole message and lose the rest of it.
                raise InvalidArgument(
                    f"read: {path}: dequeue is read whole (offset and size are refused: "
                    "reading consumes the message)"
                )
            message = await self.backend.dequeue(queue, await self._visibility(queue))
            data = EMPTY if message is None else message.render()
        elif control == "peek":
            message = await self.backend.peek(queue)
            data = EMPTY if message is None else message.render()
        elif control == "size":
            data = str(await self.backend.size(queue)).encode()
        else:
            data = _format_seconds(await self._visibility(queue)).encode()
        return read_range(data, offset, size)

    async def read_waiting(self, path: str, seconds: float, gone: asyncio.Event) -> bytes:
        queue, control = self._split_control(path)
        if control not in ("dequeue", "peek"):
            raise InvalidArgument(
                f"read: {path}: wait applies to dequeue and peek only (not {control})"
            )
        takes = control == "dequeue"

        async def look() -> Message | None:
            if takes:
                return await self.backend.dequeue(queue, await self._visibility(queue))
            return await self.backend.peek(queue)

        message = await wait_for_message(
            self.backend, self.wakeups, queue, look, seconds, self.poll, gone, takes
        )
        return EMPTY if message is None else message.render()

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo(
                "/",
                0,
                0o755,
                is_dir=True,
                meta=Meta("queuefs", "queue", {"backend": self.backend_name}),
            )
        if path == "/README":
            return self.readme_info()
        queue, control = self._split(path)
        if not control:
            # Clients probe queues with stat, so it never fails (the original's rule).
            return _queue_info(queue.rsplit("/", 1)[-1])
        if control == "peek":
            last = await self.backend.last_enqueue_ns(queue)
            return _control_info(control, 0, last if last is not None else time.time_ns())
        if control == "size":
            return _control_info(control, len(str(await self.backend.size(queue))))
        if control == "visibility_timeout":
            return _control_info(control, len(_format_seconds(await self._visibility(queue))))
        return _control_info(control)

    async def readdir(self, path: str) -> list[FileInfo]:
        names = await self.backend.queue_names()
        if path == "/":
            firsts = dict.fromkeys(name.split("/", 1)[0] for name in names)
            return [await self.stat("/README"), *(_queue_info(n) for n in firsts)]
        queue, control = self._split(path)
        if control:
            raise NotADirectory(f"not a directory: {path}")
        count = await self.backend.size(queue)
        if count == 0:
            prefix = queue + "/"
            children = dict.fromkeys(
                name[len(prefix) :].split("/", 1)[0] for name in names if name.startswith(prefix)
            )
            if children:
                return [_queue_info(child) for child in children]
        last = await self.backend.last_enqueue_ns(queue)
        controls = [_control_info(name) for name in CONTROL_FILES]
        controls[CONTROL_FILES.index("size")].size = len(str(count))
        controls[CONTROL_FILES.index("peek")].mtime_ns = last or time.time_ns()
        return controls

    async def open_handle(self, path: str, flags: OpenFlag, mode: int = 0o644) -> FileHandle:
        # A handle reads a control file once: its first read dequeues (peeks, counts) and later
        # reads serve that copy, so a client reading in pieces consumes one message. Each write
        # is one whole message (or clear, ack), so writing needs no random access.
        control = self._split(path)[1] if path != "/README" else ""
        return await FileAdapter.open(self, path, flags, mode, read_once=bool(control))

    # -- writes --------------------------------------------------------------------------------

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        queue, control = self._split_control(path)
        if control in _READ_ONLY:
            raise InvalidArgument(f"cannot write to: {path}")
        if control == "enqueue":
            if not data:
                raise InvalidArgument(
                    f"invalid argument: {path}: empty message (nothing to enqueue)"
                )
            if len(data) > self.max_message_size:
                raise TooLarge(
                    f"message too large: {len(data)} bytes (max_message_size is "
                    f"{self.max_message_size} bytes)"
                )
            message = await self.backend.enqueue(queue, data)
            self.wakeups.notify(queue)
            return str(message.id)
        if control == "clear":
            await self.backend.clear(queue)
            return "OK"
        if not self.backend.at_least_once and control in ("ack", "visibility_timeout"):
            raise no_in_flight_state()
        if control == "ack":
            return await self._ack(path, queue, data)
        await self.backend.set_visibility(queue, _parse_seconds(data))
        return "OK"

    async def _ack(self, path: str, queue: str, data: bytes) -> str:
        text = data.decode("utf-8", errors="replace").strip()
        if not text.isdigit():
            raise InvalidArgument(f"invalid argument: {path}: expected a message id, got {text!r}")
        if not await self.backend.ack(queue, int(text)):
            raise MessageNotInFlight(
                f"message not in flight: {text} (queue {queue}): unknown id, "
                "already acked, or dequeued without a visibility timeout"
            )
        return "OK"

    async def create(self, path: str) -> None:
        queue, control = self._split(path)
        if not control:
            raise InvalidArgument(f"cannot create files: {path} is a directory")

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        queue, control = self._split(path)
        if not queue or control:
            raise InvalidArgument("invalid queue name")
        await self.backend.create_queue(_check_name(queue))

    async def remove(self, path: str, recursive: bool = False) -> None:
        queue, control = self._split(path)
        if control:
            if recursive:
                raise NotADirectory(f"cannot remove: {path} is not a directory")
            raise PermissionDenied(f"cannot remove control files: {path}")
        if not recursive:
            raise InvalidArgument("cannot remove directory with Remove: use RemoveAll instead")
        await self.backend.remove_queues(queue)

    async def rename(self, old: str, new: str) -> None:
        raise NotSupported("cannot rename files in queuefs service")

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported("cannot change permissions in queuefs service")

    #: A shell's ``> q/enqueue`` truncates before it writes; nothing is read or dropped.
    truncate = truncate_as_no_op


def _check_name(queue: str) -> str:
    if len(queue) > MAX_NAME_CHARS:
        raise InvalidArgument(
            f"invalid queue name: longer than {MAX_NAME_CHARS} characters ({len(queue)})"
        )
    return queue


def _parse_seconds(data: bytes) -> float:
    text = data.decode("utf-8", errors="replace").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_VISIBILITY:
        raise InvalidArgument(
            f"invalid visibility_timeout {text!r}: expected seconds between 0 and "
            f"{int(MAX_VISIBILITY)} (0 = destructive read)"
        )
    return seconds
