"""MySQL/MariaDB/TiDB access for plugins through an asyncmy connection pool.

:meth:`MySQLDatabase.transaction` runs a function in one transaction and retries it on deadlocks
and lock-wait timeouts; :meth:`MySQLDatabase.execute` / :meth:`fetchone` / :meth:`fetchall` run one
autocommitted statement. Every driver error leaves as a PFS error naming ``host:port``; a lost
connection is dropped from the pool, so the next call reconnects once the server is back.

A server that accepts connections but stops answering (frozen, overloaded, a dead link that never
resets) would otherwise hold every request for as long as it lasts: each call has a deadline of
``query_timeout`` seconds (waiting for a pooled connection included), opening the pool one of
``connect_timeout``; past it the call fails with :class:`~pfs.fs.errors.Timeout` (504) naming
``host:port`` and its connection is closed, since it is half way through a reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pfs.extras import install_hint
from pfs.fs.errors import FSError, InvalidArgument, NotSupported, Timeout, Unavailable
from pfs.sql.errors import MYSQL_RETRYABLE, mysql_error_code, mysql_errors, mysql_is_unreachable
from pfs.sql.options import MySQLOptions

try:
    import asyncmy
    from asyncmy.errors import MySQLError
except ImportError:  # reported when a mysql backend is mounted
    asyncmy = None
    MySQLError = Exception

log = logging.getLogger("pfs.sql.mysql")

T = TypeVar("T")
Cursor = Any
_NAME_RE = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_RETRIES = 8


def check_identifier(name: str, what: str = "database") -> str:
    """``name`` if it is a plain SQL identifier (letters, digits, ``_``, ``$``), else an error."""
    if not _NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid {what} name {name!r}: use letters, digits and _ (at most 64 characters)"
        )
    return name


class MySQLDatabase:
    """A pool of connections to one MySQL-compatible database.

    Args:
        options: where to connect and the timeouts (see :func:`pfs.sql.options.mysql_options`).
        maxsize: most connections held open at once.
        create_database: run ``CREATE DATABASE IF NOT EXISTS`` on :meth:`open`.
    """

    def __init__(
        self, options: MySQLOptions, *, maxsize: int = 32, create_database: bool = True
    ) -> None:
        self.options = options
        self.maxsize = maxsize
        self.create_database = create_database
        self._pool: Any = None
        #: Connections with autocommit off, for transactions: the first statement opens one,
        #: which saves the BEGIN round trip.
        self._tx_pool: Any = None

    @property
    def address(self) -> str:
        return self.options.address

    def _connect_args(self) -> dict[str, Any]:
        opts = self.options
        return {
            "host": opts.host,
            "port": opts.port,
            "user": opts.user,
            "password": opts.password,
            "ssl": opts.ssl_context(),
            "connect_timeout": self.options.connect_timeout,
            "charset": "utf8mb4",
            "autocommit": True,
        }

    async def open(self) -> None:
        """Create the database if asked, open the pool and ping the server.

        Raises:
            NotSupported: asyncmy is not installed.
            Unavailable: the server cannot be reached or refuses us (the message names
                ``host:port``).
            Timeout: the server accepted the connection but did not answer within
                ``connect_timeout``.
        """
        if asyncmy is None:
            raise NotSupported(f"the mysql backend needs the mysql extra: {install_hint('mysql')}")
        database = check_identifier(self.options.database)
        try:
            async with self._deadline(self.options.connect_timeout):
                await self._open_pools(database)
            await self.fetchone("SELECT 1")
        except BaseException:
            await self.close()  # a failed mount keeps no connection open
            raise
        log.info("mysql: connected to %s/%s", self.address, database)

    async def _open_pools(self, database: str) -> None:
        args = self._connect_args()
        with mysql_errors(self.address):
            if self.create_database:
                conn = await asyncmy.connect(**args)
                try:
                    async with conn.cursor() as cur:
                        await cur.execute(
                            f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4"
                        )
                finally:
                    conn.close()
            self._pool = await asyncmy.create_pool(
                minsize=1, maxsize=self.maxsize, db=database, pool_recycle=600, **args
            )
            self._tx_pool = await asyncmy.create_pool(
                minsize=1,
                maxsize=self.maxsize,
                db=database,
                pool_recycle=600,
                **{**args, "autocommit": False},
            )

    async def close(self) -> None:
        """Close every connection of the pool."""
        for pool in (self._pool, self._tx_pool):
            if pool is not None:
                pool.close()
                await pool.wait_closed()
        self._pool = self._tx_pool = None

    async def _with_connection(
        self, work: Callable[[Any], Awaitable[T]], *, transactional: bool = False
    ) -> T:
        pool = self._tx_pool if transactional else self._pool
        if pool is None:
            raise Unavailable(f"mysql: database at {self.address} is not connected")
        async with self._deadline(self.options.query_timeout):
            with mysql_errors(self.address):
                conn = await pool.acquire()
                try:
                    return await work(conn)
                except BaseException as exc:
                    # A connection that saw an error (or a cancellation mid-statement) may be
                    # half-way through a reply or a transaction: never hand it to the next caller.
                    if mysql_is_unreachable(exc) or not isinstance(exc, MySQLError | FSError):
                        conn.close()
                    raise
                finally:
                    pool.release(conn)

    @asynccontextmanager
    async def _deadline(self, seconds: float) -> AsyncIterator[None]:
        """Cancel the block after ``seconds`` and raise :class:`Timeout` naming the server.

        A connection cancelled mid-statement closes itself (asyncmy) or is closed by
        :meth:`_with_connection`, so no half-read reply reaches the next caller.
        """
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError as exc:
            raise Timeout(
                f"mysql: database at {self.address} did not answer within {seconds:g}s"
            ) from exc

    async def transaction(self, fn: Callable[[Cursor], Awaitable[T]]) -> T:
        """Run ``await fn(cursor)`` inside one transaction and return its result.

        The whole function is retried on deadlock (1213) and lock-wait timeout (1205), so ``fn``
        must only touch the database. Any exception rolls back.
        """
        return await self._retrying(
            lambda: self._with_connection(
                lambda conn: _run_transaction(conn, fn), transactional=True
            )
        )

    async def _retrying(self, attempt_once: Callable[[], Awaitable[T]]) -> T:
        """``attempt_once()``, again after a deadlock or lock-wait timeout (both undo the whole
        statement or transaction, so a retry cannot apply anything twice)."""
        for attempt in range(_RETRIES):
            try:
                return await attempt_once()
            except Unavailable as exc:
                cause = exc.__cause__
                if cause is None or mysql_error_code(cause) not in MYSQL_RETRYABLE:
                    raise
                if attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one autocommitted statement; returns the affected row count."""

        async def work(conn: Any) -> int:
            async with conn.cursor() as cur:
                return await cur.execute(sql, args)

        return await self._retrying(lambda: self._with_connection(work))

    async def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one autocommitted INSERT; returns the AUTO_INCREMENT id it generated."""

        async def work(conn: Any) -> int:
            async with conn.cursor() as cur:
                await cur.execute(sql, args)
                return cur.lastrowid

        return await self._retrying(lambda: self._with_connection(work))

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        """The first row of one autocommitted query, or None."""

        async def work(conn: Any) -> tuple | None:
            async with conn.cursor() as cur:
                await cur.execute(sql, args)
                return await cur.fetchone()

        return await self._with_connection(work)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Every row of one autocommitted query."""

        async def work(conn: Any) -> list[tuple]:
            async with conn.cursor() as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall())

        return await self._with_connection(work)


#: MySQL's ER_DUP_FIELDNAME: ``ADD COLUMN`` of a column the table has.
_DUPLICATE_COLUMN = 1060


async def add_column(db: MySQLDatabase, sql: str) -> None:
    """Run ``ALTER TABLE ... ADD COLUMN``: a column that another mount or server sharing the
    table added meanwhile (both saw it missing) is no error."""
    try:
        await db.execute(sql)
    except FSError as exc:
        cause = exc.__cause__
        if cause is None or mysql_error_code(cause) != _DUPLICATE_COLUMN:
            raise


async def _run_transaction(conn: Any, fn: Callable[[Cursor], Awaitable[T]]) -> T:
    try:
        async with conn.cursor() as cur:
            result = await fn(cur)
        await conn.commit()
        return result
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):
            # Past the deadline (or the client left): a ROLLBACK could wait on the same silent
            # server with nothing left to stop it; closing makes the server roll back instead.
            conn.close()
        elif conn.connected:
            try:
                await conn.rollback()
            except Exception:  # the connection is closed by the caller anyway
                conn.close()
        raise
