"""The postgres backend: many servers share one database; no message is given out twice.

A dequeue is one statement in one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` picks the
first visible messages no other consumer holds, and the same statement deletes them
(destructive mode) or hides them until their visibility deadline (at-least-once mode). Ids come
from a ``BIGSERIAL``: unique and increasing across every server writing the queue.

As on MySQL, enqueues arriving together share one transaction (one ``INSERT … unnest``, one
commit) and up to :data:`RUNNERS` dequeue transactions per queue run at once, each handing out
up to :data:`MAX_BATCH` messages to the requests waiting for it.

``size`` is exact and does not scan the queue: ``queuefs_counts`` holds :data:`COUNT_SLOTS`
counters per queue, changed in the transaction that adds or removes messages (a random slot,
so concurrent transactions seldom wait on one row); size is their sum minus the messages in
flight (an index range, empty in destructive mode).

Each enqueue transaction sends ``NOTIFY pfs_queuefs, '<queue>'``; every server LISTENs, so a
blocking dequeue (:meth:`~PostgresBackend.wait_ready`) wakes when any server adds a message.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from pfs.plugins.queuefs.backend import Message, QueueBackend
from pfs.plugins.queuefs.batches import DequeueBatches, EnqueueBatches
from pfs.sql.options import MySQLOptions
from pfs.sql.postgres import Listener, PostgresDatabase, rowcount
from pfs.sql.text import like_below

CHANNEL = "pfs_queuefs"
_SCHEMA = """
    SELECT pg_advisory_xact_lock(hashtext('pfs_queuefs_schema'));
    CREATE TABLE IF NOT EXISTS queuefs_queues (
        name TEXT PRIMARY KEY COLLATE "C",
        visibility_timeout DOUBLE PRECISION NULL,
        created_ns BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS queuefs_messages (
        id BIGSERIAL PRIMARY KEY,
        queue_name TEXT NOT NULL COLLATE "C",
        data BYTEA NOT NULL,
        enqueued_ns BIGINT NOT NULL,
        visible_at_ns BIGINT NOT NULL DEFAULT 0,
        deliveries INT NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS queuefs_messages_by_queue ON queuefs_messages (queue_name, id);
    CREATE INDEX IF NOT EXISTS queuefs_messages_in_flight
        ON queuefs_messages (queue_name, visible_at_ns) WHERE deliveries > 0;
    CREATE TABLE IF NOT EXISTS queuefs_counts (
        queue_name TEXT NOT NULL COLLATE "C",
        slot INT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (queue_name, slot));
"""
_FIRST_VISIBLE = (
    "SELECT id, data, enqueued_ns FROM queuefs_messages "
    "WHERE queue_name = $1 AND visible_at_ns <= $2 ORDER BY id LIMIT 1"
)
_TAKE = (
    "WITH taken AS (SELECT id FROM queuefs_messages WHERE queue_name = $1 AND visible_at_ns <= $2"
    " ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) "
)
_DELETE_TAKEN = (
    _TAKE + "DELETE FROM queuefs_messages m USING taken WHERE m.id = taken.id "
    "RETURNING m.id, m.data, m.enqueued_ns"
)
_HIDE_TAKEN = (
    _TAKE + "UPDATE queuefs_messages m SET visible_at_ns = $4, deliveries = m.deliveries + 1 "
    "FROM taken WHERE m.id = taken.id RETURNING m.id, m.data, m.enqueued_ns"
)
_INSERT_MESSAGES = (
    "INSERT INTO queuefs_messages (queue_name, data, enqueued_ns) "
    "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[]) RETURNING id"
)
_COUNT = (
    "INSERT INTO queuefs_counts (queue_name, slot, n) VALUES ($1, $2, $3) "
    "ON CONFLICT (queue_name, slot) DO UPDATE SET n = queuefs_counts.n + EXCLUDED.n"
)
_SIZE = (
    "SELECT COALESCE((SELECT SUM(n) FROM queuefs_counts WHERE queue_name = $1), 0) - "
    "(SELECT COUNT(*) FROM queuefs_messages "
    " WHERE queue_name = $1 AND deliveries > 0 AND visible_at_ns > $2)"
)
#: Counter rows per queue (see the module docstring).
COUNT_SLOTS = 16
#: How long a queue's own visibility timeout is cached (seconds), as on MySQL.
VISIBILITY_CACHE_SECONDS = 1.0
#: Most dequeue (or enqueue) requests served by a single transaction.
MAX_BATCH = 64
#: Dequeue transactions of one queue running at once on this server.
RUNNERS = 4


def _slot() -> int:
    return random.randrange(COUNT_SLOTS)


class PostgresBackend(QueueBackend):
    def __init__(self, options: MySQLOptions) -> None:
        self.db = PostgresDatabase(options)
        self._listener = Listener(self.db, CHANNEL, self._notified)
        self._known: set[str] = set()
        self._visibility: dict[str, tuple[float | None, float]] = {}
        #: Per queue waited on: set by a NOTIFY, cleared by the wait that sees it.
        self._ready: dict[str, asyncio.Event] = {}
        self._dequeues = DequeueBatches(self._take, max_batch=MAX_BATCH, runners=RUNNERS)
        self._enqueue_batches = EnqueueBatches(self._insert, max_batch=MAX_BATCH, runners=RUNNERS)

    async def start(self) -> None:
        await self.db.open()
        await self.db.transaction(lambda conn: conn.execute(_SCHEMA))
        self._listener.start()

    async def close(self) -> None:
        await self._listener.close()
        await self.db.close()

    # -- wake-ups ------------------------------------------------------------------------------

    def _notified(self, queue: str | None) -> None:
        """A NOTIFY for ``queue``, or None after the listener reconnected (wake everyone)."""
        events = list(self._ready.values()) if queue is None else [self._ready.get(queue)]
        for event in events:
            if event is not None:
                event.set()
        if queue is not None and self.on_enqueue is not None:
            self.on_enqueue(queue)

    async def wait_ready(self, name: str, timeout: float) -> None:
        # The event of a queue stays set from a NOTIFY until a wait takes it, so a message
        # committed between a consumer's empty dequeue and its wait is not slept through (at
        # worst a wait returns at once for a message another consumer took: it tries again).
        event = self._ready.setdefault(name, asyncio.Event())
        if not event.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await event.wait()
            except TimeoutError:
                return
        event.clear()

    # -- queues --------------------------------------------------------------------------------

    async def create_queue(self, name: str) -> None:
        await self.db.execute(
            "INSERT INTO queuefs_queues (name, created_ns) VALUES ($1, $2) "
            "ON CONFLICT (name) DO NOTHING",
            name,
            time.time_ns(),
        )
        self._known.add(name)

    async def remove_queues(self, name: str) -> None:
        self._known.clear()
        self._visibility.clear()
        where, args = "", ()
        if name:
            where, args = "WHERE {0} = $1 OR {0} LIKE $2", (name, like_below(name))

        async def work(conn: Any) -> None:
            await conn.execute(f"DELETE FROM queuefs_messages {where.format('queue_name')}", *args)
            await conn.execute(f"DELETE FROM queuefs_counts {where.format('queue_name')}", *args)
            await conn.execute(f"DELETE FROM queuefs_queues {where.format('name')}", *args)

        await self.db.transaction(work)

    async def queue_names(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT name FROM queuefs_queues UNION SELECT DISTINCT queue_name FROM queuefs_messages"
        )
        return [row[0] for row in rows]

    # -- enqueue -------------------------------------------------------------------------------

    async def enqueue(self, name: str, data: bytes) -> Message:
        if name not in self._known:
            await self.create_queue(name)
        return await self._enqueue_batches.enqueue(name, data)

    async def _insert(self, batch: list[tuple[str, bytes]]) -> list[Message]:
        names = [name for name, _ in batch]
        datas = [data for _, data in batch]
        now = time.time_ns()

        async def work(conn: Any) -> list[int]:
            rows = await conn.fetch(_INSERT_MESSAGES, names, datas, [now] * len(names))
            per_queue: dict[str, int] = {}
            for name in names:
                per_queue[name] = per_queue.get(name, 0) + 1
            for name, added in per_queue.items():
                await conn.execute(_COUNT, name, _slot(), added)
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, name)
            return sorted(row[0] for row in rows)

        ids = await self.db.transaction(work)
        # unnest keeps the arrays' order and the ids are taken in it, so sorted ids match the
        # batch's order.
        return [Message(message_id, data, now) for message_id, data in zip(ids, datas, strict=True)]

    # -- dequeue -------------------------------------------------------------------------------

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        return await self._dequeues.dequeue(name, visibility)

    async def _take(self, name: str, visibility: float, count: int) -> list[Message]:
        async def work(conn: Any) -> list[Message]:
            now = time.time_ns()
            if visibility > 0:
                rows = await conn.fetch(
                    _HIDE_TAKEN, name, now, count, now + int(visibility * 1e9)
                )
            else:
                rows = await conn.fetch(_DELETE_TAKEN, name, now, count)
                if rows:
                    await conn.execute(_COUNT, name, _slot(), -len(rows))
            return sorted((Message(r[0], bytes(r[1]), r[2]) for r in rows), key=_by_id)

        return await self.db.transaction(work)

    # -- the rest ------------------------------------------------------------------------------

    async def put_back(self, name: str, message: Message) -> None:
        async def work(conn: Any) -> None:
            hidden = await conn.execute(
                "UPDATE queuefs_messages SET visible_at_ns = 0, deliveries = deliveries - 1 "
                "WHERE id = $1 AND deliveries > 0",
                message.id,
            )
            if rowcount(hidden):
                return
            # Deleted by the dequeue: the same row again, same id and place, counted again.
            inserted = await conn.execute(
                "INSERT INTO queuefs_messages (id, queue_name, data, enqueued_ns) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                message.id,
                name,
                message.data,
                message.enqueued_ns,
            )
            if rowcount(inserted):
                await conn.execute(_COUNT, name, _slot(), 1)
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, name)

        await self.db.transaction(work)

    async def peek(self, name: str) -> Message | None:
        row = await self.db.fetchone(_FIRST_VISIBLE, name, time.time_ns())
        return None if row is None else Message(row[0], bytes(row[1]), row[2])

    async def size(self, name: str) -> int:
        row = await self.db.fetchone(_SIZE, name, time.time_ns())
        return max(0, int(row[0])) if row else 0

    async def clear(self, name: str) -> None:
        async def work(conn: Any) -> None:
            removed = await conn.fetchval(
                "WITH gone AS (DELETE FROM queuefs_messages WHERE queue_name = $1 RETURNING 1) "
                "SELECT COUNT(*) FROM gone",
                name,
            )
            if removed:
                await conn.execute(_COUNT, name, _slot(), -removed)

        await self.db.transaction(work)

    async def ack(self, name: str, message_id: int) -> bool:
        async def work(conn: Any) -> bool:
            status = await conn.execute(
                "DELETE FROM queuefs_messages WHERE id = $1 AND queue_name = $2 AND deliveries > 0",
                message_id,
                name,
            )
            if status != "DELETE 1":
                return False
            await conn.execute(_COUNT, name, _slot(), -1)
            return True

        return await self.db.transaction(work)

    async def last_enqueue_ns(self, name: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT enqueued_ns FROM queuefs_messages WHERE queue_name = $1 "
            "ORDER BY id DESC LIMIT 1",
            name,
        )
        return None if row is None else int(row[0])

    async def get_visibility(self, name: str) -> float | None:
        cached = self._visibility.get(name)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        row = await self.db.fetchone(
            "SELECT visibility_timeout FROM queuefs_queues WHERE name = $1", name
        )
        value = None if row is None or row[0] is None else float(row[0])
        self._visibility[name] = (value, now + VISIBILITY_CACHE_SECONDS)
        return value

    async def set_visibility(self, name: str, seconds: float) -> None:
        await self.db.execute(
            "INSERT INTO queuefs_queues (name, visibility_timeout, created_ns) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET visibility_timeout = EXCLUDED.visibility_timeout",
            name,
            seconds,
            time.time_ns(),
        )
        self._known.add(name)
        self._visibility[name] = (seconds, time.monotonic() + VISIBILITY_CACHE_SECONDS)


def _by_id(message: Message) -> int:
    return int(message.id)
