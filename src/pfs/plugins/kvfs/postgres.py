"""The postgres back end of kvfs: ``kvfs_entries(namespace, k, v)`` shared by many servers.

Each mount works in its ``namespace``, as on MySQL; read-modify-write updates and renames lock
their rows (``FOR UPDATE``); a key two servers create at once is created by one, the other
then updating it (``ON CONFLICT``), so concurrent appends to a new key keep every piece.
"""

from __future__ import annotations

from typing import Any

from pfs.plugins.kvfs.backend import (
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
from pfs.sql.options import MySQLOptions
from pfs.sql.postgres import PostgresDatabase

_SCHEMA = """
    SELECT pg_advisory_xact_lock(hashtext('pfs_kvfs_schema'));
    CREATE TABLE IF NOT EXISTS kvfs_entries (
        namespace TEXT NOT NULL COLLATE "C",
        k TEXT NOT NULL COLLATE "C",
        v BYTEA NOT NULL,
        ver TEXT NULL,
        PRIMARY KEY (namespace, k));
    ALTER TABLE kvfs_entries ADD COLUMN IF NOT EXISTS ver TEXT NULL;
"""
_LOCK_VALUE = "SELECT v, ver FROM kvfs_entries WHERE namespace = $1 AND k = $2 FOR UPDATE"
_INSERT_NEW = (
    "INSERT INTO kvfs_entries (namespace, k, v, ver) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING"
)
_UPSERT = (
    "INSERT INTO kvfs_entries (namespace, k, v, ver) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (namespace, k) DO UPDATE SET v = EXCLUDED.v, ver = EXCLUDED.ver"
)


class PostgresBackend(KVBackend):
    def __init__(self, options: MySQLOptions, namespace: str) -> None:
        self.db = PostgresDatabase(options)
        self.ns = check_namespace(namespace)

    async def start(self, initial: dict[str, bytes]) -> None:
        await self.db.open()
        await self.db.transaction(lambda conn: conn.execute(_SCHEMA))
        if initial:
            await self.db.executemany(
                _INSERT_NEW,
                [(self.ns, key, value, new_version()) for key, value in initial.items()],
            )

    async def close(self) -> None:
        await self.db.close()

    async def get(self, key: str) -> bytes | None:
        row = await self.db.fetchone(
            "SELECT v FROM kvfs_entries WHERE namespace = $1 AND k = $2", self.ns, key
        )
        return None if row is None else bytes(row[0])

    async def size(self, key: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT octet_length(v) FROM kvfs_entries WHERE namespace = $1 AND k = $2",
            self.ns,
            key,
        )
        return None if row is None else int(row[0])

    async def state(self, key: str) -> State:
        row = await self.db.fetchone(
            "SELECT octet_length(v), ver FROM kvfs_entries WHERE namespace = $1 AND k = $2",
            self.ns,
            key,
        )
        return None if row is None else (int(row[0]), row[1] or "0")

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        check_key(key)

        async def work(conn: Any) -> None:
            # The row lock (FOR UPDATE) holds other writers, of every server, until commit.
            row = await conn.fetchrow(_LOCK_VALUE, self.ns, key)
            if row is None:
                if guard is not None:
                    guard(None)
                # No row to lock: the insert waits for another server creating the key at the
                # same time, and if that one won, its value is locked and updated below.
                status = await conn.execute(_INSERT_NEW, self.ns, key, fn(None), new_version())
                if status == "INSERT 0 1":
                    return
                row = await conn.fetchrow(_LOCK_VALUE, self.ns, key)
            if guard is not None:
                guard(None if row is None else (len(row[0]), row[1] or "0"))
            value = fn(None if row is None else bytes(row[0]))
            await conn.execute(_UPSERT, self.ns, key, value, new_version())

        await self.db.transaction(work)

    async def delete_if(self, key: str, guard: Guard) -> None:
        async def work(conn: Any) -> None:
            row = await conn.fetchrow(
                "SELECT octet_length(v), ver FROM kvfs_entries WHERE namespace = $1 AND k = $2 "
                "FOR UPDATE",
                self.ns,
                key,
            )
            guard(None if row is None else (int(row[0]), row[1] or "0"))
            await conn.execute(
                "DELETE FROM kvfs_entries WHERE namespace = $1 AND k = $2", self.ns, key
            )

        await self.db.transaction(work)

    async def create(self, key: str) -> None:
        check_key(key)
        inserted = await self.db.execute(_INSERT_NEW, self.ns, key, b"", new_version())
        if inserted == 0:
            raise key_exists(key)

    async def delete(self, key: str) -> None:
        deleted = await self.db.execute(
            "DELETE FROM kvfs_entries WHERE namespace = $1 AND k = $2", self.ns, key
        )
        if deleted == 0:
            raise key_not_found(key)

    async def clear(self) -> None:
        await self.db.execute("DELETE FROM kvfs_entries WHERE namespace = $1", self.ns)

    async def sizes(self) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT k, octet_length(v) FROM kvfs_entries WHERE namespace = $1", self.ns
        )
        return [(row[0], int(row[1])) for row in rows]

    async def rename(self, old: str, new: str) -> None:
        check_key(new)

        async def work(conn: Any) -> None:
            rows = await conn.fetch(
                "SELECT k FROM kvfs_entries WHERE namespace = $1 AND k IN ($2, $3) FOR UPDATE",
                self.ns,
                old,
                new,
            )
            present = {row[0] for row in rows}
            if old not in present:
                raise key_not_found(old)
            if new in present:
                raise key_exists(new)
            await conn.execute(
                "UPDATE kvfs_entries SET k = $1 WHERE namespace = $2 AND k = $3", new, self.ns, old
            )

        await self.db.transaction(work)
