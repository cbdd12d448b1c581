"""The sqlite backend: one database file, WAL, group-committed writes (see pfs.sql.sqlite).

Every change runs on the single writer connection, so a dequeue (select the first visible
message, then delete or hide it) is atomic; in-flight state is a column, so it survives restarts.
What grows with the number of messages (listing queues, clearing) runs off the loop.

``size`` does not count messages: ``queuefs_counts`` holds each queue's number of messages,
changed in the transaction that adds or removes them, and size is that minus the messages in
flight (a partial index holding only delivered messages, empty in destructive mode). A database
made before the counters existed is counted once, when the table is created.
"""

from __future__ import annotations

import sqlite3
import time

from pfs.plugins.queuefs.backend import Message, QueueBackend
from pfs.sql import SQLiteDatabase, like_below

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queuefs_queues (
    name TEXT PRIMARY KEY,
    visibility_timeout REAL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queuefs_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_name TEXT NOT NULL,
    data BLOB NOT NULL,
    enqueued_ns INTEGER NOT NULL,
    visible_at_ns INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queuefs_messages_by_queue ON queuefs_messages (queue_name, id);
CREATE INDEX IF NOT EXISTS queuefs_messages_in_flight
    ON queuefs_messages (queue_name, visible_at_ns) WHERE deliveries > 0;
"""
_COUNTS = "CREATE TABLE queuefs_counts (queue_name TEXT PRIMARY KEY, n INTEGER NOT NULL)"
_COUNT = (
    "INSERT INTO queuefs_counts (queue_name, n) VALUES (?, ?) "
    "ON CONFLICT(queue_name) DO UPDATE SET n = n + excluded.n"
)
_SIZE = (
    "SELECT COALESCE((SELECT n FROM queuefs_counts WHERE queue_name = ?), 0) - "
    "(SELECT COUNT(*) FROM queuefs_messages "
    " WHERE queue_name = ? AND deliveries > 0 AND visible_at_ns > ?)"
)

_FIRST_VISIBLE = (
    "SELECT id, data, enqueued_ns FROM queuefs_messages "
    "WHERE queue_name = ? AND visible_at_ns <= ? ORDER BY id LIMIT 1"
)


class SQLiteBackend(QueueBackend):
    def __init__(self, path: str) -> None:
        self.db = SQLiteDatabase(path)
        #: Queues known to have a row, so enqueue skips the insert-or-ignore.
        self._known: set[str] = set()

    async def start(self) -> None:
        await self.db.open()

        def work(conn: sqlite3.Connection) -> None:
            # One statement at a time: executescript would commit the writer's transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            counted = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queuefs_counts'"
            ).fetchone()
            if counted is None:
                conn.execute(_COUNTS)
                conn.execute(
                    "INSERT INTO queuefs_counts (queue_name, n) "
                    "SELECT queue_name, COUNT(*) FROM queuefs_messages GROUP BY queue_name"
                )

        # Counting an existing database reads every message once.
        await self.db.write(work, large=True)

    async def close(self) -> None:
        await self.db.close()

    async def create_queue(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO queuefs_queues (name, created_ns) VALUES (?, ?)",
                (name, time.time_ns()),
            )

        await self.db.write(work)
        self._known.add(name)

    async def remove_queues(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if not name:
                conn.execute("DELETE FROM queuefs_messages")
                conn.execute("DELETE FROM queuefs_counts")
                conn.execute("DELETE FROM queuefs_queues")
                return
            pattern = like_below(name)
            for table, column in (
                ("queuefs_messages", "queue_name"),
                ("queuefs_counts", "queue_name"),
                ("queuefs_queues", "name"),
            ):
                conn.execute(
                    f"DELETE FROM {table} WHERE {column} = ? OR {column} LIKE ? ESCAPE '\\'",
                    (name, pattern),
                )

        self._known.clear()
        await self.db.write(work, large=True)

    async def queue_names(self) -> list[str]:
        rows = await self.db.scan(
            lambda conn: conn.execute(
                "SELECT name FROM queuefs_queues UNION "
                "SELECT DISTINCT queue_name FROM queuefs_messages"
            ).fetchall()
        )
        return [row[0] for row in rows]

    async def enqueue(self, name: str, data: bytes) -> Message:
        known = name in self._known

        def work(conn: sqlite3.Connection) -> Message:
            now = time.time_ns()
            if not known:
                conn.execute(
                    "INSERT OR IGNORE INTO queuefs_queues (name, created_ns) VALUES (?, ?)",
                    (name, now),
                )
            cursor = conn.execute(
                "INSERT INTO queuefs_messages (queue_name, data, enqueued_ns) VALUES (?, ?, ?)",
                (name, data, now),
            )
            conn.execute(_COUNT, (name, 1))
            return Message(cursor.lastrowid, data, now)

        message = await self.db.write(work)
        self._known.add(name)
        return message

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        def work(conn: sqlite3.Connection) -> Message | None:
            now = time.time_ns()
            row = conn.execute(_FIRST_VISIBLE, (name, now)).fetchone()
            if row is None:
                return None
            if visibility > 0:
                conn.execute(
                    "UPDATE queuefs_messages SET visible_at_ns = ?, deliveries = deliveries + 1 "
                    "WHERE id = ?",
                    (now + int(visibility * 1e9), row[0]),
                )
            else:
                conn.execute("DELETE FROM queuefs_messages WHERE id = ?", (row[0],))
                conn.execute(_COUNT, (name, -1))
            return Message(row[0], bytes(row[1]), row[2])

        return await self.db.write(work)

    async def put_back(self, name: str, message: Message) -> None:
        def work(conn: sqlite3.Connection) -> None:
            hidden = conn.execute(
                "UPDATE queuefs_messages SET visible_at_ns = 0, deliveries = deliveries - 1 "
                "WHERE id = ? AND deliveries > 0",
                (message.id,),
            ).rowcount
            if not hidden:  # deleted by the dequeue: the same row again, same id and place
                added = conn.execute(
                    "INSERT OR IGNORE INTO queuefs_messages (id, queue_name, data, enqueued_ns) "
                    "VALUES (?, ?, ?, ?)",
                    (message.id, name, message.data, message.enqueued_ns),
                ).rowcount
                if added:
                    conn.execute(_COUNT, (name, 1))

        await self.db.write(work)

    async def peek(self, name: str) -> Message | None:
        row = self.db.read(
            lambda conn: conn.execute(_FIRST_VISIBLE, (name, time.time_ns())).fetchone()
        )
        return None if row is None else Message(row[0], bytes(row[1]), row[2])

    async def size(self, name: str) -> int:
        row = self.db.read(
            lambda conn: conn.execute(_SIZE, (name, name, time.time_ns())).fetchone()
        )
        return max(0, row[0])

    async def clear(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM queuefs_messages WHERE queue_name = ?", (name,))
            conn.execute("DELETE FROM queuefs_counts WHERE queue_name = ?", (name,))

        await self.db.write(work, large=True)

    async def ack(self, name: str, message_id: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(
                "DELETE FROM queuefs_messages WHERE id = ? AND queue_name = ? AND deliveries > 0",
                (message_id, name),
            ).rowcount
            if deleted:
                conn.execute(_COUNT, (name, -1))
            return deleted > 0

        return await self.db.write(work)

    async def last_enqueue_ns(self, name: str) -> int | None:
        row = self.db.read(
            lambda conn: conn.execute(
                "SELECT enqueued_ns FROM queuefs_messages WHERE queue_name = ? "
                "ORDER BY id DESC LIMIT 1",
                (name,),
            ).fetchone()
        )
        return None if row is None else row[0]

    async def get_visibility(self, name: str) -> float | None:
        row = self.db.read(
            lambda conn: conn.execute(
                "SELECT visibility_timeout FROM queuefs_queues WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if row is None else row[0]

    async def set_visibility(self, name: str, seconds: float) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO queuefs_queues (name, visibility_timeout, created_ns) "
                "VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET visibility_timeout = excluded.visibility_timeout",
                (name, seconds, time.time_ns()),
            )

        await self.db.write(work)
        self._known.add(name)
