"""sqlfs on PostgreSQL through the asyncpg pool of :mod:`pfs.sql.postgres`.

Paths are ``TEXT COLLATE "C"``: compared and ordered byte for byte, as file names must be.
The plugin's ``?`` placeholders become ``$1, $2…`` here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pfs.plugins.sqlfs.backend import Check, SQLFSBackend, Statement
from pfs.sql.options import MySQLOptions
from pfs.sql.postgres import PostgresDatabase, rowcount

_SCHEMA = """
    SELECT pg_advisory_xact_lock(hashtext('pfs_sqlfs_schema'));
    CREATE TABLE IF NOT EXISTS files (
        path TEXT COLLATE "C" PRIMARY KEY, is_dir INT NOT NULL, mode BIGINT NOT NULL,
        size BIGINT NOT NULL DEFAULT 0, mod_time BIGINT NOT NULL, data BYTEA,
        blob_id TEXT NULL, version TEXT NULL);
    ALTER TABLE files ADD COLUMN IF NOT EXISTS version TEXT NULL;
    CREATE TABLE IF NOT EXISTS file_chunks (
        blob_id TEXT NOT NULL, start BIGINT NOT NULL, data BYTEA NOT NULL,
        PRIMARY KEY (blob_id, start));
"""
_MARK = re.compile(r"\?")


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders numbered as PostgreSQL wants them."""
    count = iter(range(1, 1000))
    return _MARK.sub(lambda _m: f"${next(count)}", sql)


class PostgresBackend(SQLFSBackend):
    kind = "postgres"
    upsert_file_sql = (
        "INSERT INTO files (path, is_dir, mode, size, mod_time, data, blob_id, version) "
        "VALUES (?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = EXCLUDED.size, "
        "mod_time = EXCLUDED.mod_time, data = EXCLUDED.data, blob_id = EXCLUDED.blob_id, "
        "version = EXCLUDED.version"
    )
    move_subtree_sql = (
        "UPDATE files SET path = ?::text || substr(path, ?) WHERE path LIKE ? ESCAPE '!'"
    )

    def __init__(self, options: MySQLOptions) -> None:
        self.db = PostgresDatabase(options)

    async def start(self) -> None:
        await self.db.open()
        await self.db.transaction(lambda conn: conn.execute(_SCHEMA))

    async def close(self) -> None:
        await self.db.close()

    # ``large`` changes nothing here: the database works in its own process, never on the loop.
    async def query(self, sql: str, args: Sequence[Any] = (), large: bool = False) -> list[tuple]:
        return [tuple(row) for row in await self.db.fetchall(_numbered(sql), *args)]

    async def atomic(
        self, statements: Sequence[Statement], check: Check | None = None, large: bool = False
    ) -> list[int]:
        async def run(conn: Any) -> list[int]:
            counts = [
                rowcount(await conn.execute(_numbered(sql), *args)) for sql, args in statements
            ]
            if check is not None:
                check(counts)
            return counts

        return await self.db.transaction(run)
