"""Dequeue requests grouped into transactions, for the backends whose dequeue is a database
transaction (mysql, postgres): up to ``runners`` transactions per (queue, visibility) run at once
on a server; requests arriving while they are all busy are served together by the next one, so
under load one commit hands out up to ``max_batch`` messages, one per waiting request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pfs.plugins.queuefs.backend import Message

#: ``take(queue, visibility, count)``: one transaction taking up to ``count`` messages.
Take = Callable[[str, float, int], Awaitable[list[Message]]]
Key = tuple[str, float]


class DequeueBatches:
    def __init__(self, take: Take, *, max_batch: int, runners: int) -> None:
        self._take = take
        self.max_batch = max_batch
        self.runners = runners
        #: (queue, visibility) → futures of dequeue requests waiting for the next transaction.
        self._waiting: dict[Key, list[asyncio.Future[Message | None]]] = {}
        self._running: dict[Key, int] = {}
        #: The loop keeps only weak references to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        key = (name, visibility)
        future: asyncio.Future[Message | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._running.get(key, 0) < self.runners:
            self._running[key] = self._running.get(key, 0) + 1
            task = asyncio.get_running_loop().create_task(self._serve(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _serve(self, key: Key) -> None:
        """Run dequeue transactions for ``key`` until no request is waiting."""
        while True:
            waiting = [f for f in self._waiting.get(key, ()) if not f.done()]
            batch, rest = waiting[: self.max_batch], waiting[self.max_batch :]
            if not batch:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]
                    self._waiting.pop(key, None)
                return
            self._waiting[key] = rest
            try:
                messages = await self._take(key[0], key[1], len(batch))
            except Exception as exc:  # every request of this batch fails the same way
                for future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for index, future in enumerate(batch):
                if not future.done():
                    future.set_result(messages[index] if index < len(messages) else None)


#: ``insert([(queue, data), ...])``: one transaction adding every message, their Messages in order.
Insert = Callable[[list[tuple[str, bytes]]], Awaitable[list[Message]]]


class EnqueueBatches:
    """Group commit: enqueues arriving together share one transaction (one log flush, the cost
    that dominates), up to ``max_batch`` each and ``runners`` at once; each answers only after
    its COMMIT, so a 200 is durable."""

    def __init__(self, insert: Insert, *, max_batch: int, runners: int) -> None:
        self._insert = insert
        self.max_batch = max_batch
        self.runners = runners
        self._pending: list[tuple[str, bytes, asyncio.Future[Message]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def enqueue(self, name: str, data: bytes) -> Message:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message] = loop.create_future()
        self._pending.append((name, data, future))
        if self._running < self.runners:
            self._running += 1
            task = loop.create_task(self._serve())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _serve(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    messages = await self._insert([(name, data) for name, data, _ in batch])
                except Exception as exc:  # nothing of this batch was committed
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, _, future), message in zip(batch, messages, strict=True):
                    if not future.done():
                        future.set_result(message)
        finally:
            self._running -= 1
