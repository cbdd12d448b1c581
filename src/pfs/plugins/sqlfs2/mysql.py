"""sqlfs2 on MySQL, MariaDB or TiDB through :class:`pfs.sql.MySQLDatabase` (its pool, timeouts
and error translation: a database that is down answers 503 naming ``host:port``). Result sets
are read through an unbuffered cursor, so a large one is refused before it is all in memory."""

from __future__ import annotations

from typing import Any

from pfs.fs import AlreadyExists, FSError, InvalidArgument, NotFound
from pfs.plugins.sqlfs2.backend import Outcome, SQLFS2Backend, known_columns
from pfs.plugins.sqlfs2.results import Rows
from pfs.sql import MySQLDatabase, MySQLOptions, as_text
from pfs.sql.errors import mysql_error_code

try:
    from asyncmy.cursors import SSCursor
except ImportError:  # MySQLDatabase.open names the missing package
    SSCursor = None

_FETCH = 256


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySQLBackend(SQLFS2Backend):
    kind = "mysql"

    def __init__(self, options: MySQLOptions) -> None:
        self.db = MySQLDatabase(options)
        self.default_database = options.database

    async def start(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def _user_sql(self, work: Any) -> Any:
        """Run ``work`` (a transaction function); a statement the server refuses is the
        caller's SQL (400), while lost connections, timeouts and conflicts keep their kind."""
        try:
            return await self.db.transaction(work)
        except FSError as exc:
            if type(exc) is FSError and 1000 <= mysql_error_code(exc.__cause__) < 2000:
                raise InvalidArgument(exc.message) from exc
            raise

    # -- names -------------------------------------------------------------------------------

    async def databases(self) -> list[str]:
        return [as_text(row[0]) for row in await self.db.fetchall("SHOW DATABASES")]

    async def has_database(self, db: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (db,)
        )
        return row is not None

    async def tables(self, db: str) -> list[str]:
        if not await self.has_database(db):
            raise NotFound(f"database not found: {db}")
        rows = await self.db.fetchall(f"SHOW TABLES FROM {_quote(db)}")
        return sorted(as_text(row[0]) for row in rows)

    async def has_table(self, db: str, table: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = %s",
            (db, table),
        )
        return row is not None

    async def _need_table(self, db: str, table: str) -> None:
        if not await self.has_table(db, table):
            raise NotFound(f"table '{db}.{table}' does not exist")

    async def schema(self, db: str, table: str) -> str:
        await self._need_table(db, table)
        row = await self.db.fetchone(f"SHOW CREATE TABLE {_quote(db)}.{_quote(table)}")
        return as_text(row[1]) if row else ""

    async def count(self, db: str, table: str) -> int:
        await self._need_table(db, table)
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM {_quote(db)}.{_quote(table)}")
        return int(row[0]) if row else 0

    # -- statements --------------------------------------------------------------------------

    async def run(self, db: str | None, sql: str, limit: int) -> Outcome:
        if db is not None and not await self.has_database(db):
            raise NotFound(f"database not found: {db}")
        current = db or self.default_database

        async def work(cur: Any) -> Outcome:
            # Pooled connections keep their current database: set it every time.
            await cur.execute(f"USE {_quote(current)}")
            async with cur.connection.cursor(SSCursor) as rows_cursor:
                await rows_cursor.execute(sql)
                if rows_cursor.description is None:
                    return Outcome(None, max(rows_cursor.rowcount or 0, 0),
                                   rows_cursor.lastrowid or 0)
                rows = Rows([d[0] for d in rows_cursor.description], limit)
                while batch := await rows_cursor.fetchmany(_FETCH):
                    for row in batch:
                        rows.add(row)
                return Outcome(rows)

        return await self._user_sql(work)

    async def insert(self, db: str, table: str, records: list[dict[str, Any]]) -> int:
        await self._need_table(db, table)
        columns = [
            as_text(row[0])
            for row in await self.db.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s ORDER BY ordinal_position",
                (db, table),
            )
        ]
        target = f"{_quote(db)}.{_quote(table)}"

        async def work(cur: Any) -> int:
            for index, record in enumerate(records):
                names = known_columns(columns, record, index, f"{db}.{table}")
                sql = (
                    f"INSERT INTO {target} ({', '.join(map(_quote, names))}) "
                    f"VALUES ({', '.join(['%s'] * len(names))})"
                )
                try:
                    await cur.execute(sql, [record[name] for name in names])
                except Exception as exc:
                    code = mysql_error_code(exc)
                    if code in (1062, 1022):  # a duplicate key
                        raise AlreadyExists(f"insert error at record {index}: {exc}") from exc
                    if 1000 <= code < 2000:
                        raise InvalidArgument(f"insert error at record {index}: {exc}") from exc
                    raise
            return len(records)

        return await self._user_sql(work)

    async def drop_database(self, db: str) -> None:
        await self.db.execute(f"DROP DATABASE IF EXISTS {_quote(db)}")

    async def drop_table(self, db: str, table: str) -> None:
        await self.db.execute(f"DROP TABLE IF EXISTS {_quote(db)}.{_quote(table)}")
