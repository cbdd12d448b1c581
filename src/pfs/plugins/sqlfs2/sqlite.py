"""sqlfs2 on a SQLite file. Statements of unknown cost run on one worker thread that owns the
connection (never on the event loop); a statement running past ``query_timeout`` is
interrupted. The ``<db>`` of a path is a schema of the connection (``main``, attached ones)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pfs.fs import FSError, InvalidArgument, NotFound, NotSupported, Timeout, Unavailable
from pfs.plugins.sqlfs2.backend import Outcome, SQLFS2Backend, known_columns
from pfs.plugins.sqlfs2.results import Rows
from pfs.sql import translate_sqlite_error

T = TypeVar("T")
_FETCH = 256


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteBackend(SQLFS2Backend):
    kind = "sqlite3"

    def __init__(self, path: str, query_timeout: float) -> None:
        self.path = path
        self.query_timeout = query_timeout
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlfs2-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._deadline = 0.0

    async def start(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise Unavailable(
                f"sqlite: cannot open database {self.path}: directory {directory} does not exist"
            )
        await self._call(self._open)

    def _open(self, conn: Any = None) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise InvalidArgument(f"sqlite: db_path {self.path}: {exc}") from exc
        # Checked every few thousand VM steps: a statement past its deadline is interrupted.
        conn.set_progress_handler(lambda: time.monotonic() > self._deadline, 10_000)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._conn.close)
            self._conn = None
        self._thread.shutdown(wait=False)

    async def _call(self, fn: Callable[..., T]) -> T:
        def work() -> T:
            self._deadline = time.monotonic() + self.query_timeout
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def _error(self, exc: sqlite3.Error) -> FSError:
        if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
            return Timeout(
                f"sqlite: statement on {self.path} ran past query_timeout "
                f"({self.query_timeout:g}s) and was interrupted"
            )
        error = translate_sqlite_error(exc, self.path)
        if type(error) is FSError:  # a statement the database refuses: the caller's SQL
            return InvalidArgument(error.message)
        return error

    def _end(self, conn: sqlite3.Connection, how: str) -> None:
        """COMMIT or ROLLBACK the open transaction (if the statement left one open), with a
        fresh deadline: a statement that used up its time must still be able to end."""
        if conn.in_transaction:
            self._deadline = time.monotonic() + self.query_timeout
            conn.execute(how)

    # -- names -------------------------------------------------------------------------------

    async def databases(self) -> list[str]:
        return await self._call(
            lambda c: [row[1] for row in c.execute("PRAGMA database_list") if row[1] != "temp"]
        )

    async def has_database(self, db: str) -> bool:
        return db in await self.databases()

    async def _need_database(self, db: str) -> None:
        if not await self.has_database(db):
            raise NotFound(f"database not found: {db}")

    async def tables(self, db: str) -> list[str]:
        await self._need_database(db)
        sql = (
            f"SELECT name FROM {_quote(db)}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        return await self._call(lambda c: [row[0] for row in c.execute(sql)])

    async def _table_sql(self, db: str, table: str) -> str | None:
        await self._need_database(db)
        sql = f"SELECT sql FROM {_quote(db)}.sqlite_master WHERE type = 'table' AND name = ?"
        rows = await self._call(lambda c: c.execute(sql, (table,)).fetchall())
        return rows[0][0] if rows else None

    async def has_table(self, db: str, table: str) -> bool:
        return await self._table_sql(db, table) is not None

    async def schema(self, db: str, table: str) -> str:
        sql = await self._table_sql(db, table)
        if sql is None:
            raise NotFound(f"table '{db}.{table}' does not exist")
        return sql

    async def count(self, db: str, table: str) -> int:
        sql = f"SELECT COUNT(*) FROM {_quote(db)}.{_quote(table)}"
        return await self._call(lambda c: c.execute(sql).fetchone()[0])

    # -- statements --------------------------------------------------------------------------

    async def run(self, db: str | None, sql: str, limit: int) -> Outcome:
        if db is not None:
            await self._need_database(db)

        def work(conn: sqlite3.Connection) -> Outcome:
            conn.execute("BEGIN")
            try:
                cursor = conn.execute(sql)
                if cursor.description is not None:
                    rows = Rows([d[0] for d in cursor.description], limit)
                    while batch := cursor.fetchmany(_FETCH):
                        for row in batch:
                            rows.add(row)
                    outcome = Outcome(rows)
                else:
                    outcome = Outcome(None, max(cursor.rowcount, 0), cursor.lastrowid or 0)
                self._end(conn, "COMMIT")
                return outcome
            except BaseException:
                self._end(conn, "ROLLBACK")
                raise

        return await self._call(work)

    async def insert(self, db: str, table: str, records: list[dict[str, Any]]) -> int:
        columns = await self._columns(db, table)

        def work(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN")
            try:
                for index, record in enumerate(records):
                    names = known_columns(columns, record, index, f"{db}.{table}")
                    sql = (
                        f"INSERT INTO {_quote(db)}.{_quote(table)} "
                        f"({', '.join(map(_quote, names))}) "
                        f"VALUES ({', '.join('?' * len(names))})"
                    )
                    try:
                        conn.execute(sql, [record[name] for name in names])
                    except sqlite3.Error as exc:
                        raise InvalidArgument(f"insert error at record {index}: {exc}") from exc
                self._end(conn, "COMMIT")
                return len(records)
            except BaseException:
                self._end(conn, "ROLLBACK")
                raise

        return await self._call(work)

    async def _columns(self, db: str, table: str) -> list[str]:
        await self.schema(db, table)  # NotFound for a missing table
        sql = f"PRAGMA {_quote(db)}.table_info({_quote(table)})"
        return await self._call(lambda c: [row[1] for row in c.execute(sql)])

    async def drop_database(self, db: str) -> None:
        raise NotSupported("drop database is not supported for sqlite backend")

    async def drop_table(self, db: str, table: str) -> None:
        await self._need_database(db)
        sql = f"DROP TABLE IF EXISTS {_quote(db)}.{_quote(table)}"
        await self._call(lambda c: c.execute(sql))

