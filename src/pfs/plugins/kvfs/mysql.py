"""The mysql/tidb back end of kvfs: ``kvfs_entries(namespace, k, v)`` shared by many servers.

Each mount works in its ``namespace``, so several mounts (or servers) naming the same namespace
see the same keys; read-modify-write updates and renames lock their rows (``FOR UPDATE``).
"""

from __future__ import annotations

from pfs.plugins.kvfs.backend import (
    MAX_KEY_CHARS,
    MAX_NAMESPACE_CHARS,
    Guard,
    KVBackend,
    State,
    Updater,
    check_key,
    check_namespace,
    key_exists,
    key_not_found,
    new_version,
)
from pfs.sql import MySQLDatabase, MySQLOptions, as_text
from pfs.sql.mysql import add_column


class MySQLBackend(KVBackend):
    def __init__(self, options: MySQLOptions, namespace: str) -> None:
        self.db = MySQLDatabase(options)
        self.ns = check_namespace(namespace)

    async def start(self, initial: dict[str, bytes]) -> None:
        await self.db.open()
        await self.db.execute(
            f"CREATE TABLE IF NOT EXISTS kvfs_entries ("
            f" namespace VARCHAR({MAX_NAMESPACE_CHARS}) NOT NULL,"
            f" k VARCHAR({MAX_KEY_CHARS}) NOT NULL, v LONGBLOB NOT NULL, ver VARCHAR(32) NULL,"
            f" PRIMARY KEY (namespace, k)"
            f") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )
        columns = {
            as_text(row[0])
            for row in await self.db.fetchall(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = 'kvfs_entries'"
            )
        }
        if "ver" not in columns:  # a table made by the original or an older PFS
            await add_column(self.db, "ALTER TABLE kvfs_entries ADD COLUMN ver VARCHAR(32) NULL")
        for key, value in initial.items():
            await self.db.execute(
                "INSERT IGNORE INTO kvfs_entries (namespace, k, v) VALUES (%s, %s, %s)",
                (self.ns, key, value),
            )

    async def close(self) -> None:
        await self.db.close()

    async def get(self, key: str) -> bytes | None:
        row = await self.db.fetchone(
            "SELECT v FROM kvfs_entries WHERE namespace = %s AND k = %s", (self.ns, key)
        )
        return None if row is None else bytes(row[0])

    async def size(self, key: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT LENGTH(v) FROM kvfs_entries WHERE namespace = %s AND k = %s", (self.ns, key)
        )
        return None if row is None else int(row[0])

    async def state(self, key: str) -> State:
        row = await self.db.fetchone(
            "SELECT LENGTH(v), ver FROM kvfs_entries WHERE namespace = %s AND k = %s",
            (self.ns, key),
        )
        return None if row is None else (int(row[0]), as_text(row[1]) if row[1] else "0")

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        check_key(key)

        async def work(cur) -> None:
            # The row lock (FOR UPDATE) holds other writers, of every server, until commit.
            await cur.execute(
                "SELECT v, ver FROM kvfs_entries WHERE namespace = %s AND k = %s FOR UPDATE",
                (self.ns, key),
            )
            row = await cur.fetchone()
            if guard is not None:
                guard(None if row is None else (len(row[0]), as_text(row[1]) if row[1] else "0"))
            value = fn(None if row is None else bytes(row[0]))
            await cur.execute(
                "INSERT INTO kvfs_entries (namespace, k, v, ver) VALUES (%s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE v = VALUES(v), ver = VALUES(ver)",
                (self.ns, key, value, new_version()),
            )

        await self.db.transaction(work)

    async def delete_if(self, key: str, guard: Guard) -> None:
        async def work(cur) -> None:
            await cur.execute(
                "SELECT LENGTH(v), ver FROM kvfs_entries WHERE namespace = %s AND k = %s "
                "FOR UPDATE",
                (self.ns, key),
            )
            row = await cur.fetchone()
            guard(None if row is None else (int(row[0]), as_text(row[1]) if row[1] else "0"))
            await cur.execute(
                "DELETE FROM kvfs_entries WHERE namespace = %s AND k = %s", (self.ns, key)
            )

        await self.db.transaction(work)

    async def create(self, key: str) -> None:
        check_key(key)
        inserted = await self.db.execute(
            "INSERT IGNORE INTO kvfs_entries (namespace, k, v, ver) VALUES (%s, %s, '', %s)",
            (self.ns, key, new_version()),
        )
        if inserted == 0:
            raise key_exists(key)

    async def delete(self, key: str) -> None:
        deleted = await self.db.execute(
            "DELETE FROM kvfs_entries WHERE namespace = %s AND k = %s", (self.ns, key)
        )
        if deleted == 0:
            raise key_not_found(key)

    async def clear(self) -> None:
        await self.db.execute("DELETE FROM kvfs_entries WHERE namespace = %s", (self.ns,))

    async def sizes(self) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT k, LENGTH(v) FROM kvfs_entries WHERE namespace = %s", (self.ns,)
        )
        return [(as_text(k), int(n)) for k, n in rows]

    async def rename(self, old: str, new: str) -> None:
        check_key(new)

        async def work(cur) -> None:
            await cur.execute(
                "SELECT k FROM kvfs_entries WHERE namespace = %s AND k IN (%s, %s) FOR UPDATE",
                (self.ns, old, new),
            )
            present = {as_text(row[0]) for row in await cur.fetchall()}
            if old not in present:
                raise key_not_found(old)
            if new in present:
                raise key_exists(new)
            await cur.execute(
                "UPDATE kvfs_entries SET k = %s WHERE namespace = %s AND k = %s",
                (new, self.ns, old),
            )

        await self.db.transaction(work)
