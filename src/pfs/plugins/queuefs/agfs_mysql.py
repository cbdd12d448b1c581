"""AGFS's queue layout (pfs.plugins.queuefs.agfs) on MySQL, MariaDB or TiDB.

Types are AGFS's TiDB ones. A dequeue is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` of
the lowest live row, then its soft delete, so servers sharing the database (AGFS's included)
never hand out one message twice. Each operation reads its queue's table from the registry
first; MySQL commits DDL at once, so a queue two servers create together is settled by the
registry row that won, and both use its table.
"""

from __future__ import annotations

from typing import Any

from pfs.plugins.queuefs.agfs import (
    FIRST_LIVE,
    REGISTRY,
    new_message,
    no_in_flight_state,
    stored_message,
    table_name,
)
from pfs.plugins.queuefs.backend import Message, QueueBackend, is_below
from pfs.sql import MySQLDatabase, MySQLOptions, as_text

_REGISTRY_DDL = f"""CREATE TABLE IF NOT EXISTS {REGISTRY} (
    queue_name VARCHAR(255) NOT NULL PRIMARY KEY,
    table_name VARCHAR(255) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""
_QUEUE_DDL = """CREATE TABLE IF NOT EXISTS {table} (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(64) NOT NULL,
    data LONGBLOB NOT NULL,
    timestamp BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    deleted TINYINT(1) DEFAULT 0,
    deleted_at TIMESTAMP NULL,
    INDEX idx_deleted_id (deleted, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
_LOOKUP = f"SELECT table_name FROM {REGISTRY} WHERE queue_name = %s"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class AgfsMySQLBackend(QueueBackend):
    at_least_once = False

    def __init__(self, options: MySQLOptions) -> None:
        self.db = MySQLDatabase(options)

    async def start(self) -> None:
        await self.db.open()
        await self.db.execute(_REGISTRY_DDL)

    async def close(self) -> None:
        await self.db.close()

    async def _table(self, queue: str) -> str | None:
        """The quoted table of a registered queue."""
        row = await self.db.fetchone(_LOOKUP, (queue,))
        return None if row is None else _quoted(as_text(row[0]))

    async def _register(self, queue: str) -> str:
        found = await self._table(queue)
        if found is not None:
            return found
        rows = await self.db.fetchall(f"SELECT table_name FROM {REGISTRY}")
        taken = [as_text(row[0]) for row in rows]
        name = table_name(queue, taken)
        await self.db.execute(_QUEUE_DDL.format(table=_quoted(name)))
        await self.db.execute(
            f"INSERT IGNORE INTO {REGISTRY} (queue_name, table_name) VALUES (%s, %s)", (queue, name)
        )
        # Another server may have registered the queue first, with a table of its own choice.
        winner = await self._table(queue)
        assert winner is not None  # the row exists: ours or the other server's
        return winner

    async def create_queue(self, name: str) -> None:
        await self._register(name)

    async def remove_queues(self, name: str) -> None:
        rows = await self.db.fetchall(f"SELECT queue_name, table_name FROM {REGISTRY}")
        for queue, table in ((as_text(q), as_text(t)) for q, t in rows):
            if is_below(queue, name):
                await self.db.execute(f"DROP TABLE IF EXISTS {_quoted(table)}")
                await self.db.execute(f"DELETE FROM {REGISTRY} WHERE queue_name = %s", (queue,))

    async def queue_names(self) -> list[str]:
        rows = await self.db.fetchall(f"SELECT queue_name FROM {REGISTRY}")
        return [as_text(row[0]) for row in rows]

    async def enqueue(self, name: str, data: bytes) -> Message:
        message, stored = new_message(data)
        # A queue that does not exist is created, as on every backend (AGFS refuses).
        table = await self._register(name)
        await self.db.execute(
            f"INSERT INTO {table} (message_id, data, timestamp, deleted) VALUES (%s, %s, %s, 0)",
            (message.id, stored, message.enqueued_ns // 1_000_000_000),
        )
        return message

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        if visibility > 0:
            raise no_in_flight_state()
        table = await self._table(name)
        if table is None:
            return None

        async def work(cur: Any) -> Message | None:
            await cur.execute(FIRST_LIVE.format(table=table) + " FOR UPDATE SKIP LOCKED")
            row = await cur.fetchone()
            if row is None:
                return None
            await cur.execute(
                f"UPDATE {table} SET deleted = 1, deleted_at = CURRENT_TIMESTAMP WHERE id = %s",
                (row[0],),
            )
            return stored_message(row[1], row[2], row[3])

        return await self.db.transaction(work)

    async def put_back(self, name: str, message: Message) -> None:
        table = await self._table(name)
        if table is not None:
            await self.db.execute(
                f"UPDATE {table} SET deleted = 0, deleted_at = NULL WHERE message_id = %s",
                (str(message.id),),
            )

    async def peek(self, name: str) -> Message | None:
        table = await self._table(name)
        row = None if table is None else await self.db.fetchone(FIRST_LIVE.format(table=table))
        return None if row is None else stored_message(row[1], row[2], row[3])

    async def size(self, name: str) -> int:
        table = await self._table(name)
        if table is None:
            return 0
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE deleted = 0")
        return int(row[0]) if row else 0

    async def clear(self, name: str) -> None:
        table = await self._table(name)
        if table is not None:
            await self.db.execute(f"DELETE FROM {table}")

    async def last_enqueue_ns(self, name: str) -> int | None:
        table = await self._table(name)
        if table is None:
            return None
        # The newest live row by id (indexed), not MAX(timestamp), which reads every row.
        row = await self.db.fetchone(
            f"SELECT timestamp FROM {table} WHERE deleted = 0 ORDER BY id DESC LIMIT 1"
        )
        return None if row is None else int(row[0]) * 1_000_000_000

    async def ack(self, name: str, message_id: int) -> bool:
        raise no_in_flight_state()

    async def get_visibility(self, name: str) -> float | None:
        return None

    async def set_visibility(self, name: str, seconds: float) -> None:
        raise no_in_flight_state()
