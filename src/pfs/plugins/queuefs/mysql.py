"""The mysql/tidb backend: many servers share one database; no message is given out twice.

A dequeue is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` takes the first visible message
that no other consumer has locked, then deletes it (destructive mode) or hides it until its
visibility deadline (at-least-once mode). Message ids are the table's AUTO_INCREMENT values:
unique and increasing across every server writing the queue, however close in time.

Up to :data:`RUNNERS` dequeue transactions per queue run at once on a server; requests arriving
while they are all busy are served together by the next one (``LIMIT n``), so under load one
commit hands out up to :data:`MAX_BATCH` messages, one per waiting request.

``size`` does not count messages: ``queuefs_counts`` holds :data:`COUNT_SLOTS` counters per
queue, changed in the transaction that adds or removes messages (a random slot, so concurrent
transactions seldom wait on one row); size is their sum minus the messages in flight (an index
range, empty in destructive mode). Tables made before the counters existed are counted once, by
the server that creates the counter table.
"""

from __future__ import annotations

import random
import time

from pfs.fs.errors import FSError
from pfs.plugins.queuefs.backend import Message, QueueBackend
from pfs.plugins.queuefs.batches import DequeueBatches, EnqueueBatches
from pfs.sql import MySQLDatabase, MySQLOptions, as_text, like_below
from pfs.sql.errors import mysql_error_code

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS queuefs_queues (
        name VARCHAR(255) NOT NULL PRIMARY KEY,
        visibility_timeout DOUBLE NULL,
        created_ns BIGINT NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    """CREATE TABLE IF NOT EXISTS queuefs_messages (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        queue_name VARCHAR(255) NOT NULL,
        data LONGBLOB NOT NULL,
        enqueued_ns BIGINT NOT NULL,
        visible_at_ns BIGINT NOT NULL DEFAULT 0,
        deliveries INT NOT NULL DEFAULT 0,
        KEY queuefs_messages_by_queue (queue_name, id),
        KEY queuefs_messages_in_flight (queue_name, visible_at_ns)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
)

_FIRST_VISIBLE = (
    "SELECT id, data, enqueued_ns FROM queuefs_messages "
    "WHERE queue_name = %s AND visible_at_ns <= %s ORDER BY id LIMIT 1"
)
_COUNTS = """CREATE TABLE queuefs_counts (
        queue_name VARCHAR(255) NOT NULL,
        slot INT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (queue_name, slot)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""
_COUNT = (
    "INSERT INTO queuefs_counts (queue_name, slot, n) VALUES (%s, %s, %s) "
    "ON DUPLICATE KEY UPDATE n = n + VALUES(n)"
)
# Only a hidden message has visible_at_ns in the future, so this range is the in-flight ones.
_SIZE = (
    "SELECT COALESCE((SELECT SUM(n) FROM queuefs_counts WHERE queue_name = %s), 0) - "
    "(SELECT COUNT(*) FROM queuefs_messages WHERE queue_name = %s AND visible_at_ns > %s)"
)
#: MySQL's ER_TABLE_EXISTS_ERROR and ER_DUP_KEYNAME: another server made it meanwhile.
_EXISTS = {1050, 1061}
#: Counter rows per queue (see the module docstring).
COUNT_SLOTS = 16
#: How long a queue's own visibility timeout is cached before it is read again (seconds);
#: a change made through another server reaches this one within that time.
VISIBILITY_CACHE_SECONDS = 1.0
_INSERT_MESSAGE = "INSERT INTO queuefs_messages (queue_name, data, enqueued_ns) VALUES (%s, %s, %s)"
#: Most dequeue (or enqueue) requests served by a single transaction.
MAX_BATCH = 64
#: Dequeue transactions of one queue running at once on this server.
RUNNERS = 4


class MySQLBackend(QueueBackend):
    def __init__(self, options: MySQLOptions) -> None:
        self.db = MySQLDatabase(options)
        self._known: set[str] = set()
        self._visibility: dict[str, tuple[float | None, float]] = {}
        self._dequeues = DequeueBatches(self._take, max_batch=MAX_BATCH, runners=RUNNERS)
        self._enqueue_batches = EnqueueBatches(self._insert, max_batch=MAX_BATCH, runners=RUNNERS)

    async def start(self) -> None:
        await self.db.open()
        for statement in _SCHEMA:
            await self.db.execute(statement)
        # Tables from before the in-flight index and the counters get them here, once.
        if not await self._exists("statistics", "index_name = 'queuefs_messages_in_flight'"):
            await self._create(
                "ALTER TABLE queuefs_messages "
                "ADD INDEX queuefs_messages_in_flight (queue_name, visible_at_ns)"
            )
        if not await self._exists("tables", "table_name = 'queuefs_counts'"):
            if await self._create(_COUNTS):
                await self.db.execute(
                    "INSERT INTO queuefs_counts (queue_name, slot, n) "
                    "SELECT queue_name, 0, COUNT(*) FROM queuefs_messages GROUP BY queue_name"
                )

    async def _exists(self, view: str, condition: str) -> bool:
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM information_schema.{view} "
            f"WHERE table_schema = DATABASE() AND {condition}"
        )
        return bool(row and row[0])

    async def _create(self, sql: str) -> bool:
        """Run a CREATE/ALTER; False when another server sharing the database did it first."""
        try:
            await self.db.execute(sql)
        except FSError as exc:
            if exc.__cause__ is None or mysql_error_code(exc.__cause__) not in _EXISTS:
                raise
            return False
        return True

    async def close(self) -> None:
        await self.db.close()

    async def create_queue(self, name: str) -> None:
        await self.db.execute(
            "INSERT IGNORE INTO queuefs_queues (name, created_ns) VALUES (%s, %s)",
            (name, time.time_ns()),
        )
        self._known.add(name)

    async def remove_queues(self, name: str) -> None:
        self._known.clear()
        self._visibility.clear()
        where, args = "", ()
        if name:
            where, args = "WHERE {0} = %s OR {0} LIKE %s", (name, like_below(name))

        async def work(cur) -> None:
            await cur.execute(f"DELETE FROM queuefs_messages {where.format('queue_name')}", args)
            await cur.execute(f"DELETE FROM queuefs_counts {where.format('queue_name')}", args)
            await cur.execute(f"DELETE FROM queuefs_queues {where.format('name')}", args)

        await self.db.transaction(work)

    async def queue_names(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT name FROM queuefs_queues UNION SELECT DISTINCT queue_name FROM queuefs_messages"
        )
        return [as_text(row[0]) for row in rows]

    async def enqueue(self, name: str, data: bytes) -> Message:
        if name not in self._known:
            await self.create_queue(name)
        return await self._enqueue_batches.enqueue(name, data)

    async def _insert(self, batch: list[tuple[str, bytes]]) -> list[Message]:
        async def work(cur) -> list[Message]:
            messages = []
            for name, data in batch:
                now = time.time_ns()
                await cur.execute(_INSERT_MESSAGE, (name, data, now))
                messages.append(Message(cur.lastrowid, data, now))
            per_queue: dict[str, int] = {}
            for name, _ in batch:
                per_queue[name] = per_queue.get(name, 0) + 1
            for name in sorted(per_queue):
                await cur.execute(_COUNT, (name, _slot(), per_queue[name]))
            return messages

        return await self.db.transaction(work)

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        return await self._dequeues.dequeue(name, visibility)

    async def _take(self, name: str, visibility: float, count: int) -> list[Message]:
        async def work(cur) -> list[Message]:
            now = time.time_ns()
            await cur.execute(
                _FIRST_VISIBLE.replace("LIMIT 1", "LIMIT %s") + " FOR UPDATE SKIP LOCKED",
                (name, now, count),
            )
            rows = await cur.fetchall()
            if not rows:
                return []
            ids = [row[0] for row in rows]
            marks = ", ".join(["%s"] * len(ids))
            if visibility > 0:
                await cur.execute(
                    "UPDATE queuefs_messages SET visible_at_ns = %s, deliveries = deliveries + 1 "
                    f"WHERE id IN ({marks})",
                    (now + int(visibility * 1e9), *ids),
                )
            else:
                await cur.execute(f"DELETE FROM queuefs_messages WHERE id IN ({marks})", ids)
                await cur.execute(_COUNT, (name, _slot(), -len(ids)))
            return [Message(row[0], bytes(row[1]), row[2]) for row in rows]

        return await self.db.transaction(work)

    async def put_back(self, name: str, message: Message) -> None:
        async def work(cur) -> None:
            await cur.execute(
                "UPDATE queuefs_messages SET visible_at_ns = 0, deliveries = deliveries - 1 "
                "WHERE id = %s AND deliveries > 0",
                (message.id,),
            )
            if not cur.rowcount:  # deleted by the dequeue: the same row again, same id and place
                added = await cur.execute(
                    "INSERT IGNORE INTO queuefs_messages (id, queue_name, data, enqueued_ns) "
                    "VALUES (%s, %s, %s, %s)",
                    (message.id, name, message.data, message.enqueued_ns),
                )
                if added:
                    await cur.execute(_COUNT, (name, _slot(), 1))

        await self.db.transaction(work)

    async def peek(self, name: str) -> Message | None:
        row = await self.db.fetchone(_FIRST_VISIBLE, (name, time.time_ns()))
        return None if row is None else Message(row[0], bytes(row[1]), row[2])

    async def size(self, name: str) -> int:
        row = await self.db.fetchone(_SIZE, (name, name, time.time_ns()))
        return max(0, int(row[0])) if row else 0

    async def clear(self, name: str) -> None:
        async def work(cur) -> None:
            removed = await cur.execute(
                "DELETE FROM queuefs_messages WHERE queue_name = %s", (name,)
            )
            if removed:
                await cur.execute(_COUNT, (name, _slot(), -removed))

        await self.db.transaction(work)

    async def ack(self, name: str, message_id: int) -> bool:
        async def work(cur) -> bool:
            deleted = await cur.execute(
                "DELETE FROM queuefs_messages WHERE id = %s AND queue_name = %s AND deliveries > 0",
                (message_id, name),
            )
            if deleted:
                await cur.execute(_COUNT, (name, _slot(), -1))
            return deleted > 0

        return await self.db.transaction(work)

    async def last_enqueue_ns(self, name: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT enqueued_ns FROM queuefs_messages WHERE queue_name = %s "
            "ORDER BY id DESC LIMIT 1",
            (name,),
        )
        return None if row is None else int(row[0])

    async def get_visibility(self, name: str) -> float | None:
        cached = self._visibility.get(name)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        row = await self.db.fetchone(
            "SELECT visibility_timeout FROM queuefs_queues WHERE name = %s", (name,)
        )
        value = None if row is None or row[0] is None else float(row[0])
        self._visibility[name] = (value, now + VISIBILITY_CACHE_SECONDS)
        return value

    async def set_visibility(self, name: str, seconds: float) -> None:
        await self.db.execute(
            "INSERT INTO queuefs_queues (name, visibility_timeout, created_ns) "
            "VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE visibility_timeout = VALUES(visibility_timeout)",
            (name, seconds, time.time_ns()),
        )
        self._known.add(name)
        self._visibility[name] = (seconds, time.monotonic() + VISIBILITY_CACHE_SECONDS)


def _slot() -> int:
    return random.randrange(COUNT_SLOTS)
