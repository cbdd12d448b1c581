"""The memory backend: a deque per queue (O(1) enqueue and dequeue), lost on restart."""

from __future__ import annotations

import heapq
import time
from collections import deque
from dataclasses import dataclass, field

from pfs.plugins.queuefs.backend import Message, QueueBackend, is_below


@dataclass(slots=True)
class _Queue:
    ready: deque[Message] = field(default_factory=deque)
    #: id → (message, deadline_ns) for messages dequeued in at-least-once mode, not yet acked.
    inflight: dict[int, tuple[Message, int]] = field(default_factory=dict)
    #: (deadline_ns, id) of in-flight messages; entries whose deadline changed are stale.
    deadlines: list[tuple[int, int]] = field(default_factory=list)
    last_enqueue_ns: int | None = None
    visibility: float | None = None

    def expired(self, now: int) -> Message | None:
        """The first in-flight message whose deadline passed (stale heap entries dropped)."""
        while self.deadlines:
            deadline, message_id = self.deadlines[0]
            entry = self.inflight.get(message_id)
            if entry is None or entry[1] != deadline:
                heapq.heappop(self.deadlines)
                continue
            return entry[0] if deadline <= now else None
        return None


class MemoryBackend(QueueBackend):
    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}
        self._last_id = 0

    def _next_id(self) -> int:
        # The original's id is the enqueue time in ns, bumped so it never repeats or goes back.
        self._last_id = max(time.time_ns(), self._last_id + 1)
        return self._last_id

    async def close(self) -> None:
        self.queues.clear()

    async def create_queue(self, name: str) -> None:
        self.queues.setdefault(name, _Queue())

    async def remove_queues(self, name: str) -> None:
        for queue_name in [q for q in self.queues if is_below(q, name)]:
            del self.queues[queue_name]

    def depths(self) -> dict[str, int] | None:
        # Copied in one step first: the metrics read this from a worker thread.
        return {name: len(queue.ready) for name, queue in list(self.queues.items())}

    async def queue_names(self) -> list[str]:
        return list(self.queues)

    async def enqueue(self, name: str, data: bytes) -> Message:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = _Queue()
        message_id = self._next_id()
        message = Message(message_id, data, message_id)
        queue.ready.append(message)
        queue.last_enqueue_ns = message_id
        return message

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        queue = self.queues.get(name)
        if queue is None:
            return None
        now = time.time_ns()
        message = queue.expired(now)
        if message is not None:
            del queue.inflight[message.id]
        elif queue.ready:
            message = queue.ready.popleft()
        else:
            return None
        if visibility > 0:
            deadline = now + int(visibility * 1e9)
            queue.inflight[message.id] = (message, deadline)
            heapq.heappush(queue.deadlines, (deadline, message.id))
        return message

    async def put_back(self, name: str, message: Message) -> None:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = _Queue()
        queue.inflight.pop(int(message.id), None)
        queue.ready.appendleft(message)

    async def peek(self, name: str) -> Message | None:
        queue = self.queues.get(name)
        if queue is None:
            return None
        message = queue.expired(time.time_ns())
        if message is not None:
            return message
        return queue.ready[0] if queue.ready else None

    async def size(self, name: str) -> int:
        queue = self.queues.get(name)
        if queue is None:
            return 0
        now = time.time_ns()
        return len(queue.ready) + sum(
            1 for _, deadline in queue.inflight.values() if deadline <= now
        )

    async def clear(self, name: str) -> None:
        queue = self.queues.get(name)
        if queue is not None:
            queue.ready.clear()
            queue.inflight.clear()
            queue.deadlines.clear()
            queue.last_enqueue_ns = None

    async def ack(self, name: str, message_id: int) -> bool:
        queue = self.queues.get(name)
        return queue is not None and queue.inflight.pop(message_id, None) is not None

    async def last_enqueue_ns(self, name: str) -> int | None:
        queue = self.queues.get(name)
        return None if queue is None else queue.last_enqueue_ns

    async def get_visibility(self, name: str) -> float | None:
        queue = self.queues.get(name)
        return None if queue is None else queue.visibility

    async def set_visibility(self, name: str, seconds: float) -> None:
        await self.create_queue(name)
        self.queues[name].visibility = seconds
