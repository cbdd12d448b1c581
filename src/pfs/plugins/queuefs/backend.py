"""What every queuefs backend provides, and the message record they exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from pfs.fs.gotime import format_rfc3339nano

#: The answer of dequeue/peek on an empty (or unknown) queue.
EMPTY = b"{}"


@dataclass(slots=True)
class Message:
    """One queued message: ``id`` is unique and increasing per backend (a UUIDv7 text in AGFS's
    layout); ``enqueued_ns`` is when it was enqueued (Unix nanoseconds); ``data`` is the exact
    body written to ``enqueue``. ``timestamp`` is the enqueue time as another server rendered
    it (AGFS's layout stores the whole JSON), shown unchanged."""

    id: int | str
    data: bytes
    enqueued_ns: int
    timestamp: str | None = None

    def render(self) -> bytes:
        """The original's compact JSON ``{"id","data","timestamp"}`` (invalid UTF-8 → U+FFFD)."""
        return orjson.dumps(
            {
                "id": str(self.id),
                "data": self.data.decode("utf-8", errors="replace"),
                "timestamp": self.timestamp or format_rfc3339nano(self.enqueued_ns),
            }
        )


class QueueBackend:
    """Storage of named FIFO queues. Names are ``/``-joined paths without leading slash.

    Rules every backend follows:

    * ``enqueue`` to a queue that does not exist creates it (the original's rule).
    * ``dequeue(name, visibility)`` with ``visibility == 0`` removes the message (destructive
      read); with ``visibility > 0`` it hides the message for that many seconds, after which it
      is delivered again unless ``ack`` removed it first. Only messages not in flight are seen by
      ``peek`` and counted by ``size``.
    * Unknown queues read as empty (``None``/0) and never raise.

    A backend without in-flight state (``at_least_once = False``: AGFS's layout) never gets a
    visibility above 0, nor ``ack`` and ``set_visibility`` calls: the plugin refuses them.
    """

    at_least_once = True
    #: Set by the plugin: called with a queue's name when the backend hears of an enqueue by
    #: any server (postgres's NOTIFY; the others hear of none).
    on_enqueue: Callable[[str], None] | None = None

    async def start(self) -> None:
        """Connect / create tables."""

    async def close(self) -> None:
        """Release connections."""

    async def create_queue(self, name: str) -> None:
        raise NotImplementedError

    async def remove_queues(self, name: str) -> None:
        """Remove queue ``name`` and every queue nested below it (``""``: all queues)."""
        raise NotImplementedError

    def depths(self) -> dict[str, int] | None:
        """Ready messages per queue when known without I/O (the memory backend); None for the
        SQL backends, where a count is a query and has no place in a metrics scrape."""
        return None

    async def queue_names(self) -> list[str]:
        """Every existing queue name."""
        raise NotImplementedError

    async def enqueue(self, name: str, data: bytes) -> Message:
        raise NotImplementedError

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        raise NotImplementedError

    async def put_back(self, name: str, message: Message) -> None:
        """Undo the ``dequeue`` that gave ``message``: it is visible again at its old place
        (a blocking dequeue whose client left before the answer went out)."""
        raise NotImplementedError

    async def peek(self, name: str) -> Message | None:
        raise NotImplementedError

    async def size(self, name: str) -> int:
        raise NotImplementedError

    async def clear(self, name: str) -> None:
        raise NotImplementedError

    async def ack(self, name: str, message_id: int) -> bool:
        """Remove an in-flight message; False when no such message is in flight."""
        raise NotImplementedError

    async def last_enqueue_ns(self, name: str) -> int | None:
        """When the newest message still known was enqueued (None: no such message)."""
        raise NotImplementedError

    async def get_visibility(self, name: str) -> float | None:
        """The queue's own visibility timeout in seconds (None: use the mount's default)."""
        raise NotImplementedError

    async def set_visibility(self, name: str, seconds: float) -> None:
        raise NotImplementedError

    async def wait_ready(self, name: str, timeout: float) -> None:
        """Return when a message may have become ready in ``name`` (enqueued here or, where
        the engine says so, on another server), or after ``timeout`` seconds: a blocking
        dequeue tries again after it. This default knows nothing and just waits."""
        await asyncio.sleep(timeout)


def is_below(name: str, parent: str) -> bool:
    """Whether queue ``name`` is ``parent`` itself or nested under it (``""`` holds all)."""
    return not parent or name == parent or name.startswith(parent + "/")
