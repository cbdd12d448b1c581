"""AGFS's queue layout (pfs.plugins.queuefs.agfs) in a SQLite file.

Every operation finds its queue's table through the registry inside the same transaction (or
read), so a queue another server created, cleared or removed meanwhile is seen as it is now.
Changes run on the writer's ``BEGIN IMMEDIATE`` transaction, which also holds off other
processes: select-then-mark of a dequeue is atomic across servers sharing the file.
"""

from __future__ import annotations

import sqlite3

from pfs.plugins.queuefs.agfs import (
    FIRST_LIVE,
    REGISTRY,
    new_message,
    no_in_flight_state,
    stored_message,
    table_name,
)
from pfs.plugins.queuefs.backend import Message, QueueBackend, is_below
from pfs.sql import SQLiteDatabase

_REGISTRY_DDL = f"""CREATE TABLE IF NOT EXISTS {REGISTRY} (
    queue_name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP
)"""
_QUEUE_DDL = """CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    data TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    deleted INTEGER DEFAULT 0,
    deleted_at DATETIME
)"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _registered(conn: sqlite3.Connection, queue: str) -> str | None:
    row = conn.execute(
        f"SELECT table_name FROM {REGISTRY} WHERE queue_name = ?", (queue,)
    ).fetchone()
    return None if row is None else row[0]


def _table(conn: sqlite3.Connection, queue: str) -> str | None:
    """The quoted table of a registered queue."""
    name = _registered(conn, queue)
    return None if name is None else _quoted(name)


def _register(conn: sqlite3.Connection, queue: str) -> str:
    """The quoted table of ``queue``, creating table, index and registry row when missing."""
    name = _registered(conn, queue)
    if name is None:
        taken = [row[0] for row in conn.execute(f"SELECT table_name FROM {REGISTRY}")]
        name = table_name(queue, taken)
    table = _quoted(name)
    conn.execute(_QUEUE_DDL.format(table=table))
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {_quoted(f'idx_{name}_deleted_id')} ON {table} (deleted, id)"
    )
    conn.execute(
        f"INSERT OR IGNORE INTO {REGISTRY} (queue_name, table_name) VALUES (?, ?)", (queue, name)
    )
    return table


class AgfsSQLiteBackend(QueueBackend):
    at_least_once = False

    def __init__(self, path: str) -> None:
        self.db = SQLiteDatabase(path)

    async def start(self) -> None:
        await self.db.open()
        await self.db.write(lambda conn: conn.execute(_REGISTRY_DDL))

    async def close(self) -> None:
        await self.db.close()

    async def create_queue(self, name: str) -> None:
        await self.db.write(lambda conn: _register(conn, name))

    async def remove_queues(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            rows = conn.execute(f"SELECT queue_name, table_name FROM {REGISTRY}").fetchall()
            for queue, table in rows:
                if is_below(queue, name):
                    conn.execute(f"DROP TABLE IF EXISTS {_quoted(table)}")
                    conn.execute(f"DELETE FROM {REGISTRY} WHERE queue_name = ?", (queue,))

        await self.db.write(work, large=True)

    async def queue_names(self) -> list[str]:
        rows = await self.db.scan(
            lambda conn: conn.execute(f"SELECT queue_name FROM {REGISTRY}").fetchall()
        )
        return [row[0] for row in rows]

    async def enqueue(self, name: str, data: bytes) -> Message:
        message, stored = new_message(data)

        def work(conn: sqlite3.Connection) -> None:
            # A queue that does not exist is created, as on every backend (AGFS refuses).
            table = _table(conn, name) or _register(conn, name)
            conn.execute(
                f"INSERT INTO {table} (message_id, data, timestamp, deleted) VALUES (?, ?, ?, 0)",
                (message.id, stored.decode(), message.enqueued_ns // 1_000_000_000),
            )

        await self.db.write(work)
        return message

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        if visibility > 0:
            raise no_in_flight_state()

        def work(conn: sqlite3.Connection) -> Message | None:
            table = _table(conn, name)
            if table is None:
                return None
            row = conn.execute(FIRST_LIVE.format(table=table)).fetchone()
            if row is None:
                return None
            conn.execute(
                f"UPDATE {table} SET deleted = 1, deleted_at = CURRENT_TIMESTAMP WHERE id = ?",
                (row[0],),
            )
            return stored_message(row[1], row[2], row[3])

        return await self.db.write(work)

    async def put_back(self, name: str, message: Message) -> None:
        def work(conn: sqlite3.Connection) -> None:
            table = _table(conn, name)
            if table is not None:
                conn.execute(
                    f"UPDATE {table} SET deleted = 0, deleted_at = NULL WHERE message_id = ?",
                    (str(message.id),),
                )

        await self.db.write(work)

    async def peek(self, name: str) -> Message | None:
        def work(conn: sqlite3.Connection) -> Message | None:
            table = _table(conn, name)
            if table is None:
                return None
            row = conn.execute(FIRST_LIVE.format(table=table)).fetchone()
            return None if row is None else stored_message(row[1], row[2], row[3])

        return self.db.read(work)

    async def size(self, name: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            table = _table(conn, name)
            if table is None:
                return 0
            return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE deleted = 0").fetchone()[0]

        return await self.db.scan(work)

    async def clear(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            table = _table(conn, name)
            if table is not None:
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(work, large=True)

    async def last_enqueue_ns(self, name: str) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            table = _table(conn, name)
            if table is None:
                return None
            # The newest live row by id (indexed), not MAX(timestamp), which reads every row.
            row = conn.execute(
                f"SELECT timestamp FROM {table} WHERE deleted = 0 ORDER BY id DESC LIMIT 1"
            ).fetchone()
            return None if row is None else int(row[0]) * 1_000_000_000

        return self.db.read(work)

    async def ack(self, name: str, message_id: int) -> bool:
        raise no_in_flight_state()

    async def get_visibility(self, name: str) -> float | None:
        return None

    async def set_visibility(self, name: str, seconds: float) -> None:
        raise no_in_flight_state()
