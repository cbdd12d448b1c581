"""sqlfs on a SQLite file (WAL, synchronous=NORMAL as the original), via :mod:`pfs.sql`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from pfs.plugins.sqlfs.backend import Check, SQLFSBackend, Statement
from pfs.sql import SQLiteDatabase
from pfs.sql.sqlite import add_column

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS files (
        path TEXT PRIMARY KEY, is_dir INTEGER NOT NULL, mode INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0, mod_time INTEGER NOT NULL, data BLOB)""",
    "CREATE INDEX IF NOT EXISTS idx_parent ON files(path)",
    """CREATE TABLE IF NOT EXISTS file_chunks (
        blob_id TEXT NOT NULL, start INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (blob_id, start)) WITHOUT ROWID""",
)


class SQLiteBackend(SQLFSBackend):
    kind = "sqlite3"
    upsert_file_sql = (
        "INSERT INTO files (path, is_dir, mode, size, mod_time, data, blob_id, version) "
        "VALUES (?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET size = excluded.size, "
        "mod_time = excluded.mod_time, data = excluded.data, blob_id = excluded.blob_id, "
        "version = excluded.version"
    )
    move_subtree_sql = "UPDATE files SET path = ? || substr(path, ?) WHERE path LIKE ? ESCAPE '!'"

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = SQLiteDatabase(path, synchronous="NORMAL")

    async def start(self) -> None:
        await self.db.open()

        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA cache_size=-64000")
            for statement in _SCHEMA:
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
            if "blob_id" not in columns:  # a database made by the original server
                conn.execute("ALTER TABLE files ADD COLUMN blob_id TEXT")
            if "version" not in columns:  # ... or by a PFS before conditional writes
                add_column(conn, "ALTER TABLE files ADD COLUMN version TEXT")

        await self.db.write(setup)

    async def close(self) -> None:
        await self.db.close()

    async def query(self, sql: str, args: Sequence[Any] = (), large: bool = False) -> list[tuple]:
        # Short indexed reads run on the loop thread (WAL readers never wait for the writer).
        if large:
            return await self.db.scan(lambda conn: conn.execute(sql, args).fetchall())
        return self.db.read(lambda conn: conn.execute(sql, args).fetchall())

    async def atomic(
        self, statements: Sequence[Statement], check: Check | None = None, large: bool = False
    ) -> list[int]:
        def run(conn: sqlite3.Connection) -> list[int]:
            counts = [conn.execute(sql, args).rowcount for sql, args in statements]
            if check is not None:
                check(counts)
            return counts

        return await self.db.write(run, large=large)
