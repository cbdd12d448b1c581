"""PostgreSQL access for plugins through an asyncpg connection pool.

asyncpg was measured against psycopg 3 (async) on the statements the back ends run
(``bench/pg_drivers.py``): it needs 19–33% less CPU per operation on the event loop, at the same
or a better rate, so it is the one.

:meth:`PostgresDatabase.transaction` runs a function in one transaction and retries it on
serialization failures and deadlocks; :meth:`execute` / :meth:`fetchone` / :meth:`fetchall` run
one autocommitted statement (``$1`` placeholders). Every driver error leaves as a PFS error
naming ``host:port`` (the database down is 503); a connection that failed or was cancelled is
closed, never handed to the next caller.

As for MySQL, a server that accepts connections but stops answering cannot hold requests: each
call has a deadline of ``query_timeout`` seconds (waiting for a pooled connection included),
opening the pool one of ``connect_timeout``; past it the call fails with
:class:`~pfs.fs.errors.Timeout` (504) naming ``host:port``.

:class:`Listener` keeps one extra connection for ``LISTEN`` (reconnecting after the database
comes back), so a back end can wake its waiters when another server commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from pfs.extras import install_hint
from pfs.fs.errors import (
    AlreadyExists,
    FSError,
    InvalidArgument,
    NotSupported,
    Timeout,
    TooLarge,
    Unavailable,
)
from pfs.sql.mysql import check_identifier
from pfs.sql.options import MySQLOptions

try:
    import asyncpg
except ImportError:  # reported when a postgres backend is mounted
    asyncpg = None

log = logging.getLogger("pfs.sql.postgres")

T = TypeVar("T")
#: PostgreSQL's port unless the config says otherwise.
POSTGRES_PORT = 5432
#: SQLSTATEs worth retrying the whole transaction for (serialization failure, deadlock).
RETRYABLE = {"40001", "40P01"}
_UNREACHABLE = {"57P01", "57P02", "57P03", "53300"}
_TOO_LARGE = {"54000", "54001", "22001"}
_ACCESS = {"28000", "28P01", "3D000", "42501"}
_RETRIES = 8


def postgres_options(config: dict[str, Any], default_database: str) -> MySQLOptions:
    """Connection settings from a validated plugin config (the keys of ``SQL_CONFIG_FIELDS``).

    ``dsn`` is a URL ``postgresql://user:pass@host:port/db?sslmode=require`` and wins over
    ``host``/``port``/``user``/``password``/``database``; ``sslmode`` require/verify-ca/
    verify-full turns TLS on (require without certificate checks, as libpq). ``enable_tls``,
    ``tls_server_name``, ``tls_skip_verify`` and the timeouts apply to both forms.
    """
    dsn = config.get("dsn") or ""
    if dsn:
        base = _parse_dsn(dsn)
    else:
        base = MySQLOptions(
            host=config.get("host") or "127.0.0.1",
            port=int(config.get("port") or POSTGRES_PORT),
            user=config.get("user") or "root",
            password=config.get("password") or "",
            database=config.get("database") or default_database,
        )
    return replace(
        base,
        database=base.database or default_database,
        tls=base.tls or bool(config.get("enable_tls")),
        tls_server_name=config.get("tls_server_name") or base.tls_server_name,
        tls_skip_verify=base.tls_skip_verify or bool(config.get("tls_skip_verify")),
        connect_timeout=float(config.get("connect_timeout") or base.connect_timeout),
        query_timeout=float(config.get("query_timeout") or base.query_timeout),
    )


def _parse_dsn(dsn: str) -> MySQLOptions:
    url = urlsplit(dsn)
    if url.scheme not in ("postgres", "postgresql"):
        raise InvalidArgument("invalid dsn: expected postgresql://user:pass@host:port/db")
    try:
        port = url.port or POSTGRES_PORT
    except ValueError:
        raise InvalidArgument("invalid dsn: bad port") from None
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    mode = params.get("sslmode", "disable")
    return MySQLOptions(
        url.hostname or "127.0.0.1",
        port,
        unquote(url.username or "") or "root",
        unquote(url.password or ""),
        unquote(url.path.lstrip("/")),
        tls=mode in ("require", "verify-ca", "verify-full"),
        tls_skip_verify=mode == "require",
        params=params,
    )


def _sqlstate(exc: BaseException) -> str:
    return getattr(exc, "sqlstate", None) or ""


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost or refused connection (as opposed to a bad statement)."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    if asyncpg is not None and isinstance(exc, asyncpg.ConnectionDoesNotExistError):
        return True
    if asyncpg is not None and isinstance(exc, asyncpg.InterfaceError):
        # Also raised for arguments the statement does not take: only a closed connection
        # means the database is away.
        return "closed" in str(exc)
    state = _sqlstate(exc)
    return state.startswith("08") or state in _UNREACHABLE


def translate_error(exc: BaseException, address: str) -> FSError:
    """The PFS error for an asyncpg/socket exception from the server at ``address``."""
    state = _sqlstate(exc)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):  # asyncpg's connect timeout: the server is silent
        return Timeout(f"postgres: database at {address} did not answer: {text}")
    if is_unreachable(exc):
        return Unavailable(f"postgres: database at {address} is unavailable: {text}")
    if state in RETRYABLE:
        return Unavailable(f"postgres: database at {address} is busy: {text}")
    if state == "23505":
        return AlreadyExists(f"postgres: {text}")
    if state in _TOO_LARGE:
        return TooLarge(f"postgres: value too large for the database at {address}: {text}")
    if state in _ACCESS:
        return Unavailable(f"postgres: cannot use the database at {address}: {text}")
    if state == "57014":
        return Timeout(f"postgres: statement cancelled by the database at {address}: {text}")
    return FSError(f"postgres: {text}")


@contextmanager
def postgres_errors(address: str) -> Iterator[None]:
    """Raise asyncpg and connection errors inside the block as PFS errors naming ``address``."""
    try:
        yield
    except FSError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or (
            asyncpg is not None and isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError)
        ):
            raise translate_error(exc, address) from exc
        raise


def rowcount(status: str) -> int:
    """The row count of a command status (``"DELETE 3"`` → 3, ``"INSERT 0 1"`` → 1)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database (created on :meth:`open` if missing).

    Args:
        options: where to connect and the timeouts (see :func:`postgres_options`).
        maxsize: most connections held open at once (PostgreSQL's default limit is 100 for all
            servers and mounts together, so keep it small).
    """

    def __init__(self, options: MySQLOptions, *, maxsize: int = 10) -> None:
        self.options = options
        self.maxsize = maxsize
        self._pool: Any = None

    @property
    def address(self) -> str:
        return self.options.address

    def connect_args(self) -> dict[str, Any]:
        opts = self.options
        return {
            "host": opts.host,
            "port": opts.port,
            "user": opts.user,
            "password": opts.password or None,
            "database": opts.database,
            "ssl": opts.ssl_context() or False,
            "timeout": opts.connect_timeout,
            "server_settings": {"application_name": "pfs"},
        }

    async def open(self) -> None:
        """Create the database if missing, open the pool and ping the server.

        Raises:
            NotSupported: asyncpg is not installed.
            Unavailable: the server cannot be reached or refuses us (naming ``host:port``).
            Timeout: the server did not answer within ``connect_timeout``.
        """
        if asyncpg is None:
            raise NotSupported(
                f"the postgres backend needs the postgres extra: {install_hint('postgres')}"
            )
        check_identifier(self.options.database)
        try:
            async with self._deadline(self.options.connect_timeout * 3):
                with postgres_errors(self.address):
                    await self._create_database()
                    self._pool = await asyncpg.create_pool(
                        min_size=1, max_size=self.maxsize, reset=_keep_session,
                        **self.connect_args()
                    )
            await self.fetchone("SELECT 1")
        except BaseException:
            await self.close()  # a failed mount keeps no connection open
            raise
        log.info("postgres: connected to %s/%s", self.address, self.options.database)

    async def _create_database(self) -> None:
        try:
            conn = await asyncpg.connect(**self.connect_args())
        except asyncpg.InvalidCatalogNameError:
            pass
        else:
            await conn.close()
            return
        admin = await asyncpg.connect(**{**self.connect_args(), "database": "postgres"})
        try:
            await admin.execute(f'CREATE DATABASE "{self.options.database}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            pass  # another server created it first
        finally:
            await admin.close()

    async def close(self) -> None:
        """Close every connection of the pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    @asynccontextmanager
    async def _deadline(self, seconds: float) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError as exc:
            raise Timeout(
                f"postgres: database at {self.address} did not answer within {seconds:g}s"
            ) from exc

    async def with_connection(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``await work(conn)`` on a pooled connection, within ``query_timeout``."""
        pool = self._pool
        if pool is None:
            raise Unavailable(f"postgres: database at {self.address} is not connected")
        async with self._deadline(self.options.query_timeout):
            with postgres_errors(self.address):
                conn = await pool.acquire()
                try:
                    return await work(conn)
                except BaseException as exc:
                    # Cancelled or failed mid-statement: the connection may be half way through
                    # a reply, and asking a silent server to reset it could wait forever.
                    if not isinstance(exc, FSError | asyncpg.PostgresError) or is_unreachable(
                        exc
                    ):
                        _terminate(conn)
                    raise
                finally:
                    try:
                        await pool.release(conn)
                    except Exception:
                        # A connection that broke after its work: asyncpg closed it and the pool
                        # opens another; the work's own outcome (a commit it saw) stands.
                        pass

    async def transaction(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``await fn(conn)`` inside one transaction and return its result; retried on
        serialization failures and deadlocks (so ``fn`` must only touch the database)."""

        async def work(conn: Any) -> T:
            async with conn.transaction():
                return await fn(conn)

        for attempt in range(_RETRIES):
            try:
                return await self.with_connection(work)
            except Unavailable as exc:
                if _sqlstate(exc.__cause__) not in RETRYABLE or attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one autocommitted statement; returns the affected row count."""
        return rowcount(await self.with_connection(lambda conn: conn.execute(sql, *args)))

    async def fetchone(self, sql: str, *args: Any) -> Any:
        """The first row of one autocommitted query, or None."""
        return await self.with_connection(lambda conn: conn.fetchrow(sql, *args))

    async def fetchall(self, sql: str, *args: Any) -> list[Any]:
        """Every row of one autocommitted query."""
        return await self.with_connection(lambda conn: conn.fetch(sql, *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.with_connection(lambda conn: conn.executemany(sql, rows))


class Listener:
    """``LISTEN channel`` on a connection of its own; ``on_notify(payload)`` for each NOTIFY and
    ``on_notify(None)`` after a reconnect (notifications sent meanwhile were missed)."""

    #: Seconds between attempts to reconnect while the database is away.
    RETRY_SECONDS = 1.0

    def __init__(
        self, db: PostgresDatabase, channel: str, on_notify: Callable[[str | None], None]
    ) -> None:
        self.db = db
        self.channel = check_identifier(channel, "channel")
        self.on_notify = on_notify
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.on_notify(payload)

    async def _run(self) -> None:
        first = True
        while True:
            conn = None
            try:
                conn = await asyncio.wait_for(
                    asyncpg.connect(**self.db.connect_args()), self.db.options.connect_timeout
                )
                lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                conn.add_termination_listener(partial(_settle, lost))
                await conn.add_listener(self.channel, self._deliver)
                if not first:
                    self.on_notify(None)
                first = False
                await lost
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again shortly
                log.debug("postgres: listener on %s: %s", self.db.address, exc)
            finally:
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(self.RETRY_SECONDS)


async def _keep_session(conn: Any) -> None:
    """The pool's reset of a released connection: none. asyncpg's default (``RESET ALL``,
    ``UNLISTEN *``…) costs a round trip per statement, and these connections change no session
    state (transactions end before release, advisory locks are transaction-scoped, LISTEN has a
    connection of its own)."""


def _terminate(conn: Any) -> None:
    """Close a pooled connection at once (a lost one is closed already: asyncpg then detached
    it from the pool, and terminating it again is an error)."""
    try:
        conn.terminate()
    except asyncpg.InterfaceError:
        pass


def _settle(future: asyncio.Future[None], _conn: Any) -> None:
    if not future.done():
        future.set_result(None)
