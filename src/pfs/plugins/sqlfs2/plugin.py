"""sqlfs2: a SQL database as files, in AGFS's session design (AGFS.md §4.3), with the original's
``query``/``execute`` table views beside it (PLUGINS.md §2.8).

Reading a ``ctl`` opens a session and answers its id; SQL written to the session's ``query``
(or JSON records to a table session's ``data``) runs at once, and its answer waits in ``result``
(or ``error``). Unlike AGFS, every such write is committed when it succeeds (see
:mod:`pfs.plugins.sqlfs2.sessions`). Paths are parsed by :mod:`pfs.plugins.sqlfs2.places`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pfs.fs import (
    REPLACE,
    Field,
    FileInfo,
    FileSystem,
    FSError,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    NotSupported,
    PermissionDenied,
    ReadEffect,
    WriteFlag,
    read_range,
)
from pfs.fs.base import replaces, truncate_as_no_op
from pfs.plugins.sqlfs2.backend import SQLFS2Backend
from pfs.plugins.sqlfs2.mysql import MySQLBackend
from pfs.plugins.sqlfs2.places import Place, parse
from pfs.plugins.sqlfs2.results import exec_text, execute_view_text, parse_records
from pfs.plugins.sqlfs2.sessions import Session, Sessions
from pfs.plugins.sqlfs2.sqlite import SQLiteBackend
from pfs.sql import (
    MYSQL_BACKENDS,
    SQL_CONFIG_FIELDS,
    SQLITE_BACKENDS,
    backend_is_shared,
    choose_backend,
)

_FILE_MODES = {
    "schema": (0o444, "schema"),
    "count": (0o444, "count"),
    "query": (0o222, "operation"),
    "execute": (0o222, "operation"),
}
_SESSION_FILE_MODES = {
    "ctl": (0o222, "session-ctl"),
    "query": (0o222, "query"),
    "data": (0o222, "data"),
    "result": (0o444, "result"),
    "error": (0o444, "error"),
}


class SQLFS2(FileSystem):
    fstype = "sqlfs2"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return backend_is_shared(config["backend"])

    config_schema = (
        Field(
            "backend",
            "string",
            default="sqlite",
            choices=(*SQLITE_BACKENDS, *MYSQL_BACKENDS),
            help="sqlite, sqlite3, mysql or tidb",
        ),
        *SQL_CONFIG_FIELDS,
        Field(
            "session_timeout",
            "duration",
            min=0,
            max=366 * 86400,
            help="a session unused this long is closed (e.g. 10m; unset or 0: never)",
        ),
        Field(
            "max_sessions",
            "int",
            default=1024,
            min=1,
            max=1_000_000,
            help="sessions open at once (503 beyond)",
        ),
        Field(
            "max_result_size",
            "size",
            default=8 << 20,
            min=1 << 10,
            max=1 << 30,
            help="largest query result kept (JSON bytes; 413 beyond)",
        ),
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.result_limit: int = config["max_result_size"]
        self.sessions = Sessions(config["max_sessions"], config["session_timeout"] or 0.0)
        query_timeout = float(config["query_timeout"])
        self.backend: SQLFS2Backend = choose_backend(
            config["backend"],
            config,
            sqlite=lambda path: SQLiteBackend(path, query_timeout),
            mysql=MySQLBackend,
            sqlite_file="sqlfs2.db",
            database="test",
        )
        self.readme = self.load_readme("pfs.plugins.docs", "sqlfs2.md").encode()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.backend.start()
        if self.sessions.idle_timeout:
            self._sweeper = asyncio.create_task(self._sweep())

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.sessions.by_id.clear()
        await self.backend.close()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(self.sessions.idle_timeout / 2, 0.05))
            self.sessions.sweep()

    # -- lookups ------------------------------------------------------------------------------

    async def _check_scope(self, place: Place) -> None:
        """NotFound unless the database (and table) of ``place`` exist."""
        if place.table is not None:
            assert place.db is not None
            if not await self.backend.has_table(place.db, place.table):
                raise NotFound(f"table '{place.db}.{place.table}' does not exist")
        elif place.db is not None and not await self.backend.has_database(place.db):
            raise NotFound(f"database not found: {place.db}")

    def _session(self, place: Place) -> Session:
        assert place.session is not None
        return self.sessions.get(place.session, place.scope)

    async def _table_text(self, place: Place) -> bytes:
        assert place.db is not None and place.table is not None
        if place.file == "schema":
            return (await self.backend.schema(place.db, place.table)).encode() + b"\n"
        return f"{await self.backend.count(place.db, place.table)}\n".encode()

    # -- reading ------------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        place = parse(path)
        if place.file == "README":
            return self.readme_info()
        if place.session is not None:
            session = self._session(place)
            if place.file is None:
                return FileInfo(str(session.id), 0, 0o755, session.created_ns, True,
                                Meta(self.fstype, "session"))
            return self._session_file(session, place.file)
        await self._check_scope(place)
        if place.file is None:
            if place.table is not None:
                return FileInfo(place.table, 0, 0o755, is_dir=True, meta=Meta(self.fstype, "table"))
            if place.db is not None:
                return FileInfo(place.db, 0, 0o755, is_dir=True,
                                meta=Meta(self.fstype, "database"))
            return FileInfo("/", 0, 0o755, is_dir=True, meta=Meta(self.fstype))
        return await self._file_info(place)

    async def _file_info(self, place: Place) -> FileInfo:
        name = place.file
        assert name is not None
        if name == "ctl":
            # Reading a ctl opens a session: walkers and copies must not read it.
            return FileInfo(name, 0, 0o444, meta=Meta(self.fstype, "ctl"),
                            read_effect=ReadEffect.CONSUMES)
        mode, kind = _FILE_MODES[name]
        # schema's size is one catalogue lookup; count's would be a scan of the table on every
        # listing, so it shows 0 like AGFS (clients, FUSE included, read size-0 files whole).
        size = len(await self._table_text(place)) if name == "schema" else 0
        return FileInfo(name, size, mode, meta=Meta(self.fstype, kind))

    def _session_file(self, session: Session, name: str) -> FileInfo:
        mode, kind = _SESSION_FILE_MODES[name]
        content = {"result": session.result, "error": session.error}.get(name, b"")
        return FileInfo(name, len(content), mode, session.changed_ns,
                        meta=Meta(self.fstype, kind))

    async def readdir(self, path: str) -> list[FileInfo]:
        place = parse(path)
        if place.file is not None:
            raise NotADirectory(f"not a directory: {path}")
        if place.session is not None:
            session = self._session(place)
            names = ["ctl", "query", "result", *(["data"] if place.table else []), "error"]
            return [self._session_file(session, name) for name in names]
        await self._check_scope(place)
        entries = [await self._file_info(Place(place.db, place.table, None, "ctl"))]
        if place.db is None:
            entries.append(self.readme_info())
        entries += [
            FileInfo(str(s.id), 0, 0o755, s.created_ns, True, Meta(self.fstype, "session"))
            for s in self.sessions.in_scope(place.scope)
        ]
        if place.table is not None:
            for name in ("schema", "count", "query", "execute"):
                entries.append(await self._file_info(Place(place.db, place.table, None, name)))
        elif place.db is not None:
            entries += [
                FileInfo(name, 0, 0o755, is_dir=True, meta=Meta(self.fstype, "table"))
                for name in await self.backend.tables(place.db)
            ]
        else:
            entries += [
                FileInfo(name, 0, 0o755, is_dir=True, meta=Meta(self.fstype, "database"))
                for name in await self.backend.databases()
            ]
        return entries

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        place = parse(path)
        if place.file == "README":
            return read_range(self.readme, offset, size)
        if place.file is None:
            if place.session is not None:
                self._session(place)
            else:
                await self._check_scope(place)
            raise IsADirectory(f"is a directory: {path}")
        if place.session is not None:
            session = self._session(place)
            if place.file == "result":
                return read_range(session.result, offset, size)
            if place.file == "error":
                return read_range(session.error, offset, size)
            raise PermissionDenied(f"permission denied: {place.file} is write-only")
        if place.file == "ctl":
            if offset > 0:
                raise InvalidArgument(
                    f"read ctl from its start: each read opens a new session ({path})"
                )
            await self._check_scope(place)
            return read_range(f"{self.sessions.open(place.scope).id}\n".encode(), 0, size)
        if place.file in ("query", "execute"):
            raise PermissionDenied(f"permission denied: {place.file} is write-only")
        return read_range(await self._table_text(place), offset, size)

    # -- writing ------------------------------------------------------------------------------

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        place = parse(path)
        if place.file is None:
            raise IsADirectory(f"is a directory: {path}")
        if not replaces(offset, flags) and not (offset <= 0 and flags == WriteFlag.CREATE):
            raise NotSupported(
                f"write: {path}: {place.file} takes a whole statement (no offset or append)"
            )
        if place.session is not None:
            session = self._session(place)
            if place.file == "ctl":
                command = data.decode("utf-8", "replace").strip()
                if command != "close":
                    raise InvalidArgument(f"unknown ctl command: {command} (use 'close')")
                self.sessions.close(session.id)
            elif place.file == "query":
                await self._session_query(session, data)
            elif place.file == "data":
                await self._session_data(session, place, data)
            else:
                raise PermissionDenied(f"permission denied: {place.file} is read-only")
            return f"Written {len(data)} bytes"
        if place.file in ("query", "execute"):
            return await self._view(place, data)
        raise PermissionDenied(f"permission denied: {place.file} is read-only")

    @staticmethod
    def _statement(data: bytes) -> str:
        sql = data.decode("utf-8", "replace").strip()
        if not sql:
            raise InvalidArgument("empty SQL statement")
        return sql

    async def _session_query(self, session: Session, data: bytes) -> None:
        try:
            sql = self._statement(data)
            outcome = await self.backend.run(session.scope[0], sql, self.result_limit)
        except FSError as exc:
            session.failed(exc.message)
            raise exc.with_context("query error") from exc
        if outcome.rows is not None:
            session.succeeded(outcome.rows.text())
        else:
            session.succeeded(exec_text(outcome.last_insert_id, outcome.rows_affected))

    async def _session_data(self, session: Session, place: Place, data: bytes) -> None:
        assert place.db is not None and place.table is not None
        try:
            records = parse_records(data)
            count = await self.backend.insert(place.db, place.table, records)
        except FSError as exc:
            session.failed(exc.message)
            raise
        session.succeeded(f'{{\n  "inserted_count": {count}\n}}\n'.encode())

    async def _view(self, place: Place, data: bytes) -> str:
        """The original's table views: the answer is the PUT's message."""
        await self._check_scope(place)
        sql = self._statement(data)
        try:
            outcome = await self.backend.run(place.db, sql, self.result_limit)
        except FSError as exc:
            what = "query error" if place.file == "query" else "execution error"
            raise exc.with_context(what) from exc
        if place.file == "query":
            text = outcome.rows.text() if outcome.rows is not None else b"null\n"
            return text.decode().rstrip("\n")
        return execute_view_text(outcome.last_insert_id, outcome.rows_affected).decode()

    # -- changing the tree --------------------------------------------------------------------

    async def remove(self, path: str, recursive: bool = False) -> None:
        place = parse(path)
        if place.session is not None and place.file is None:
            self.sessions.close(self._session(place).id)
            return
        if place.file is None and place.db is not None:
            if not recursive:
                raise NotSupported(
                    f"remove: {path}: dropping a {'table' if place.table else 'database'} "
                    "needs a recursive delete"
                )
            if place.table is not None:
                await self.backend.drop_table(place.db, place.table)
            else:
                await self.backend.drop_database(place.db)
            return
        raise NotSupported(
            f"remove: {path}: operation not supported: can only remove databases, tables, "
            "or sessions"
        )

    async def create(self, path: str) -> None:
        raise NotSupported(f"create: {path}: operation not supported: create")

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise NotSupported(f"mkdir: {path}: operation not supported: mkdir")

    async def rename(self, old: str, new: str) -> None:
        raise NotSupported(f"rename: {old}: operation not supported: rename")

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported(f"chmod: {path}: operation not supported: chmod")

    truncate = truncate_as_no_op
