"""kvfs stores in SQLite and MySQL/TiDB (through pfs.sql): a namespace shared by many servers.

One table ``kvfs_entries(namespace, k, v)``; each mount works in its ``namespace``, so several
mounts (or servers) naming the same namespace see the same keys.
"""

from __future__ import annotations

import sqlite3

from pfs.fs import InvalidArgument
from pfs.plugins.kvfs.store import KVStore, Updater, key_exists, key_not_found
from pfs.sql import MySQLDatabase, MySQLOptions, SQLiteDatabase

#: Longest key (characters) the MySQL primary key can index together with the namespace.
MAX_KEY_CHARS = 575
MAX_NAMESPACE_CHARS = 191
#: Values past this size are read, written and removed off the event loop (SQLite).
LARGE_VALUE = 1 << 20


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        raise InvalidArgument(f"invalid key: longer than {MAX_KEY_CHARS} characters ({len(key)})")
    return key


def check_namespace(namespace: str) -> str:
    if not namespace or len(namespace) > MAX_NAMESPACE_CHARS:
        raise InvalidArgument(
            f"kvfs: config key 'namespace' must be 1 to {MAX_NAMESPACE_CHARS} characters"
        )
    return namespace


class SQLiteStore(KVStore):
    name = "sqlite"

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

    async def update(self, key: str, fn: Updater, incoming: int = 0) -> None:
        check_key(key)

        def work(conn: sqlite3.Connection) -> None:
            value = fn(self._get(conn, key))
            conn.execute(
                "INSERT INTO kvfs_entries (namespace, k, v) VALUES (?, ?, ?) "
                "ON CONFLICT(namespace, k) DO UPDATE SET v = excluded.v",
                (self.ns, key, value),
            )

        await self.db.write(work, large=self._large(key, incoming))

    async def create(self, key: str) -> None:
        check_key(key)

        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO kvfs_entries (namespace, k, v) VALUES (?, ?, x'')",
                (self.ns, key),
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


class MySQLStore(KVStore):
    name = "mysql"

    def __init__(self, options: MySQLOptions, namespace: str) -> None:
        self.db = MySQLDatabase(options)
        self.ns = check_namespace(namespace)

    async def start(self, initial: dict[str, bytes]) -> None:
        await self.db.open()
        await self.db.execute(
            f"CREATE TABLE IF NOT EXISTS kvfs_entries ("
            f" namespace VARCHAR({MAX_NAMESPACE_CHARS}) NOT NULL,"
            f" k VARCHAR({MAX_KEY_CHARS}) NOT NULL, v LONGBLOB NOT NULL,"
            f" PRIMARY KEY (namespace, k)"
            f") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )
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

    async def update(self, key: str, fn: Updater, incoming: int = 0) -> None:
        check_key(key)

        async def work(cur) -> None:
            await cur.execute(
                "SELECT v FROM kvfs_entries WHERE namespace = %s AND k = %s FOR UPDATE",
                (self.ns, key),
            )
            row = await cur.fetchone()
            value = fn(None if row is None else bytes(row[0]))
            await cur.execute(
                "INSERT INTO kvfs_entries (namespace, k, v) VALUES (%s, %s, %s) "
                "ON DUPLICATE KEY UPDATE v = VALUES(v)",
                (self.ns, key, value),
            )

        await self.db.transaction(work)

    async def create(self, key: str) -> None:
        check_key(key)
        inserted = await self.db.execute(
            "INSERT IGNORE INTO kvfs_entries (namespace, k, v) VALUES (%s, %s, '')",
            (self.ns, key),
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
        return [(_text(k), int(n)) for k, n in rows]

    async def rename(self, old: str, new: str) -> None:
        check_key(new)

        async def work(cur) -> None:
            await cur.execute(
                "SELECT k FROM kvfs_entries WHERE namespace = %s AND k IN (%s, %s) FOR UPDATE",
                (self.ns, old, new),
            )
            present = {_text(row[0]) for row in await cur.fetchall()}
            if old not in present:
                raise key_not_found(old)
            if new in present:
                raise key_exists(new)
            await cur.execute(
                "UPDATE kvfs_entries SET k = %s WHERE namespace = %s AND k = %s",
                (new, self.ns, old),
            )

        await self.db.transaction(work)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
