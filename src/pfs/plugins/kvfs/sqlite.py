"""The sqlite back end of kvfs: one table ``kvfs_entries(namespace, k, v)`` in a SQLite file.

Each mount works in its ``namespace``, so several mounts naming the same namespace (and file)
see the same keys. Values past :data:`LARGE_VALUE` are read, written and removed off the loop.
"""

from __future__ import annotations

import sqlite3

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
from pfs.sql import SQLiteDatabase
from pfs.sql.sqlite import add_column

#: Values past this size are read, written and removed off the event loop.
LARGE_VALUE = 1 << 20


class SQLiteBackend(KVBackend):
    def __init__(self, path: str, namespace: str) -> None:
        self.db = SQLiteDatabase(path)
        self.ns = check_namespace(namespace)

    async def start(self, initial: dict[str, bytes]) -> None:
        await self.db.open()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kvfs_entries (namespace TEXT NOT NULL, k TEXT NOT NULL,"
                " v BLOB NOT NULL, PRIMARY KEY (namespace, k))"
            )
            columns = {row[1] for row in conn.execute("PRAGMA table_info(kvfs_entries)")}
            if "ver" not in columns:  # a table made by the original or an older PFS
                add_column(conn, "ALTER TABLE kvfs_entries ADD COLUMN ver TEXT")
            conn.executemany(
                "INSERT OR IGNORE INTO kvfs_entries (namespace, k, v) VALUES (?, ?, ?)",
                [(self.ns, k, v) for k, v in initial.items()],
            )

        await self.db.write(work)

    async def close(self) -> None:
        await self.db.close()

    def _get(self, conn: sqlite3.Connection, key: str) -> bytes | None:
        row = conn.execute(
            "SELECT v FROM kvfs_entries WHERE namespace = ? AND k = ?", (self.ns, key)
        ).fetchone()
        return None if row is None else bytes(row[0])

    async def get(self, key: str) -> bytes | None:
        # One query on the loop answers a small value; length() reads no blob content, so a
        # large value costs nothing here and is read on a worker thread.
        row = self.db.read(
            lambda conn: conn.execute(
                "SELECT length(v), CASE WHEN length(v) <= ? THEN v END FROM kvfs_entries "
                "WHERE namespace = ? AND k = ?",
                (LARGE_VALUE, self.ns, key),
            ).fetchone()
        )
        if row is None:
            return None
        if row[1] is not None:
            return bytes(row[1])
        return await self.db.scan(lambda conn: self._get(conn, key))

    async def size(self, key: str) -> int | None:
        return self.db.read(lambda conn: self._size(conn, key))

    def _size(self, conn: sqlite3.Connection, key: str) -> int | None:
        row = conn.execute(
            "SELECT length(v) FROM kvfs_entries WHERE namespace = ? AND k = ?", (self.ns, key)
        ).fetchone()
        return None if row is None else row[0]

    def _large(self, key: str, incoming: int = 0) -> bool:
        """Whether a write of ``key`` moves enough bytes to belong off the loop."""
        return incoming + (self.db.read(lambda conn: self._size(conn, key)) or 0) > LARGE_VALUE

    def _state(self, conn: sqlite3.Connection, key: str) -> State:
        row = conn.execute(
            "SELECT length(v), ver FROM kvfs_entries WHERE namespace = ? AND k = ?",
            (self.ns, key),
        ).fetchone()
        return None if row is None else (int(row[0]), row[1] or "0")

    async def state(self, key: str) -> State:
        return self.db.read(lambda conn: self._state(conn, key))

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        check_key(key)

        def work(conn: sqlite3.Connection) -> None:
            if guard is not None:  # in the write transaction: no other writer comes between
                guard(self._state(conn, key))
            value = fn(self._get(conn, key))
            conn.execute(
                "INSERT INTO kvfs_entries (namespace, k, v, ver) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(namespace, k) DO UPDATE SET v = excluded.v, ver = excluded.ver",
                (self.ns, key, value, new_version()),
            )

        await self.db.write(work, large=self._large(key, incoming))

    async def delete_if(self, key: str, guard: Guard) -> None:
        def work(conn: sqlite3.Connection) -> None:
            guard(self._state(conn, key))
            conn.execute("DELETE FROM kvfs_entries WHERE namespace = ? AND k = ?", (self.ns, key))

        await self.db.write(work, large=self._large(key))

    async def create(self, key: str) -> None:
        check_key(key)

        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO kvfs_entries (namespace, k, v, ver) VALUES (?, ?, x'', ?)",
                (self.ns, key, new_version()),
            )
            if cursor.rowcount == 0:
                raise key_exists(key)

        await self.db.write(work)

    async def delete(self, key: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "DELETE FROM kvfs_entries WHERE namespace = ? AND k = ?", (self.ns, key)
            )
            if cursor.rowcount == 0:
                raise key_not_found(key)

        await self.db.write(work, large=self._large(key))

    async def clear(self) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM kvfs_entries WHERE namespace = ?", (self.ns,))

        await self.db.write(work, large=True)

    async def sizes(self) -> list[tuple[str, int]]:
        return await self.db.scan(
            lambda conn: conn.execute(
                "SELECT k, length(v) FROM kvfs_entries WHERE namespace = ?", (self.ns,)
            ).fetchall()
        )

    async def rename(self, old: str, new: str) -> None:
        check_key(new)

        def work(conn: sqlite3.Connection) -> None:
            if self._size(conn, old) is None:
                raise key_not_found(old)
            if self._size(conn, new) is not None:
                raise key_exists(new)
            conn.execute(
                "UPDATE kvfs_entries SET k = ? WHERE namespace = ? AND k = ?", (new, self.ns, old)
            )

        # The row is rewritten whole, value included.
        await self.db.write(work, large=self._large(old))
