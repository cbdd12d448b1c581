"""sqlfs on MySQL, MariaDB or TiDB through the shared asyncmy pool of :mod:`pfs.sql`.

Paths are ``VARBINARY(3072)``: compared byte for byte (case-sensitive, no trailing-space
padding), as file names must be, and within InnoDB's 3072-byte key limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pfs.plugins.sqlfs.backend import DEFAULT_CHUNK_SIZE, Check, SQLFSBackend, Statement
from pfs.sql import MySQLDatabase, MySQLOptions, as_text
from pfs.sql.mysql import add_column

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS files (
        path VARBINARY(3072) PRIMARY KEY, is_dir TINYINT NOT NULL, mode INT UNSIGNED NOT NULL,
        size BIGINT NOT NULL DEFAULT 0, mod_time BIGINT NOT NULL, data LONGBLOB,
        blob_id VARCHAR(40) NULL, version VARCHAR(32) NULL)""",
    """CREATE TABLE IF NOT EXISTS file_chunks (
        blob_id VARCHAR(40) NOT NULL, start BIGINT NOT NULL, data LONGBLOB NOT NULL,
        PRIMARY KEY (blob_id, start))""",
)


def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


class MySQLBackend(SQLFSBackend):
    kind = "mysql"
    upsert_file_sql = (
        "INSERT INTO files (path, is_dir, mode, size, mod_time, data, blob_id, version) "
        "VALUES (?, 0, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE size = VALUES(size), "
        "mod_time = VALUES(mod_time), data = VALUES(data), blob_id = VALUES(blob_id), "
        "version = VALUES(version)"
    )
    move_subtree_sql = (
        "UPDATE files SET path = CONCAT(?, SUBSTRING(path, ?)) WHERE path LIKE ? ESCAPE '!'"
    )

    def __init__(self, options: MySQLOptions) -> None:
        self.db = MySQLDatabase(options)

    async def start(self) -> None:
        await self.db.open()
        for statement in _SCHEMA:
            await self.db.execute(statement)
        columns = {
            as_text(row[0])
            for row in await self.db.fetchall(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = 'files'"
            )
        }
        if "blob_id" not in columns:  # a database made by the original server
            await self.db.execute("ALTER TABLE files ADD COLUMN blob_id VARCHAR(40) NULL")
        if "version" not in columns:  # ... or by a PFS before conditional writes
            await add_column(self.db, "ALTER TABLE files ADD COLUMN version VARCHAR(32) NULL")
        packet = await self.db.fetchone("SELECT @@max_allowed_packet")
        # A chunk and its statement must fit in one packet, with room to spare.
        self.chunk_size = min(DEFAULT_CHUNK_SIZE, int(packet[0]) // 4) if packet else 64 * 1024

    async def close(self) -> None:
        await self.db.close()

    # ``large`` changes nothing here: the database works in its own process, never on the loop.
    async def query(self, sql: str, args: Sequence[Any] = (), large: bool = False) -> list[tuple]:
        return await self.db.fetchall(_placeholders(sql), args)

    async def atomic(
        self, statements: Sequence[Statement], check: Check | None = None, large: bool = False
    ) -> list[int]:
        async def run(cur: Any) -> list[int]:
            counts = [await cur.execute(_placeholders(sql), args) for sql, args in statements]
            if check is not None:
                check(counts)
            return counts

        return await self.db.transaction(run)
