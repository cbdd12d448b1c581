"""sqlfs: files and directories stored in a SQL database (SQLite, MySQL, MariaDB, TiDB).

Large files are stored in chunks (see :mod:`pfs.plugins.sqlfs.backend`) and stream in both
directions; every change is one transaction, so a failed write leaves the old content.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pfs.fs import (
    REPLACE,
    WRITE_LIMIT,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotEmpty,
    NotFound,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    TooLarge,
    WriteFlag,
    apply_write,
)
from pfs.fs.base import Buffered, Expect, check_expect, replaces, resized, written_size
from pfs.fs.paths import split_parent
from pfs.fs.turns import map_in_turns
from pfs.plugins.sqlfs.backend import SQLFSBackend, Statement
from pfs.plugins.sqlfs.cache import MetaCache
from pfs.plugins.sqlfs.mysql import MySQLBackend
from pfs.plugins.sqlfs.postgres import PostgresBackend
from pfs.plugins.sqlfs.sqlite import SQLiteBackend
from pfs.sql import SQL_CONFIG_FIELDS, as_text, backend_is_shared, choose_backend, like_below

_ROW = "SELECT is_dir, mode, size, mod_time, blob_id, version FROM files WHERE path = ?"
_DELETE_BLOB_OF = (
    "DELETE FROM file_chunks WHERE blob_id = (SELECT blob_id FROM files WHERE path = ?)"
)

Row = tuple[int, int, int, int, Any, Any]


def _human(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"


class SQLFS(FileSystem):
    fstype = "sqlfs"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return backend_is_shared(config["backend"])

    config_schema = (
        Field(
            "backend", "string", default="sqlite", help="sqlite, sqlite3, mysql, tidb or postgres"
        ),
        *SQL_CONFIG_FIELDS,
        Field("cache_enabled", "bool", default=True, help="cache stat results and listings"),
        Field(
            "cache_max_size",
            "int",
            default=1000,
            min=0,
            max=10_000_000,
            help="most cached entries (0: no cache)",
        ),
        Field(
            "cache_ttl_seconds",
            "number",
            default=5,
            min=0,
            max=86400,
            help="seconds a cached entry lives (0: no cache)",
        ),
        Field(
            "max_file_size",
            "size",
            default=256 << 20,
            min=1,
            max=1 << 40,
            help="largest file accepted (e.g. 256MB)",
        ),
    )
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.backend_name = config["backend"]
        self.max_file_size = int(config["max_file_size"])
        self.cache = MetaCache(
            config["cache_max_size"],
            config["cache_ttl_seconds"],
            bool(config["cache_enabled"]),
        )
        self.backend: SQLFSBackend = choose_backend(
            self.backend_name,
            config,
            sqlite=SQLiteBackend,
            mysql=MySQLBackend,
            postgres=PostgresBackend,
            sqlite_file="sqlfs.db",
            database="sqlfs",
        )

    async def start(self) -> None:
        await self.backend.start()
        now = int(time.time())
        rows = await self.backend.query(_ROW, ("/",))
        if not rows:
            await self.backend.atomic(
                [
                    (
                        "INSERT INTO files (path, is_dir, mode, size, mod_time, data) "
                        "VALUES (?, 1, ?, 0, ?, NULL)",
                        ("/", 0o755, now),
                    )
                ]
            )
        # Chunks staged by uploads that never finished (the server stopped mid-upload).
        await self.backend.atomic(
            [
                (
                    "DELETE FROM file_chunks WHERE blob_id NOT IN "
                    "(SELECT blob_id FROM files WHERE blob_id IS NOT NULL)",
                    (),
                )
            ],
            large=True,
        )

    async def shutdown(self) -> None:
        self.cache.clear()
        await self.backend.close()

    # -- lookups ---------------------------------------------------------------------------

    async def _row(self, path: str) -> Row | None:
        cached = self.cache.get("stat", path)
        if cached is not None:
            return cached
        version = self.cache.version
        rows = await self.backend.query(_ROW, (path,))
        if not rows:
            return None
        row: Row = tuple(rows[0])  # type: ignore[assignment]
        self.cache.put("stat", path, row, version)
        return row

    async def _require_dir(self, path: str, op: str) -> None:
        row = await self._row(path)
        if row is None:
            raise NotFound(f"{op}: {path}: not found")
        if not row[0]:
            raise NotADirectory(f"not a directory: {path}")

    def _info(self, name: str, row: Row, meta: Meta) -> FileInfo:
        is_dir, mode, size, mod_time, _, version = row
        return FileInfo(
            name,
            int(size),
            int(mode),
            int(mod_time) * 1_000_000_000,
            bool(is_dir),
            meta,
            version=f"{int(mod_time):x}.{as_text(version) if version else 0}",
        )

    async def stat(self, path: str) -> FileInfo:
        row = await self._row(path)
        if row is None:
            raise NotFound(f"stat: {path}: not found")
        name = "/" if path == "/" else path.rsplit("/", 1)[1]
        return self._info(name, row, Meta("sqlfs", self.backend.kind))

    async def readdir(self, path: str) -> list[FileInfo]:
        cached = self.cache.get("list", path)
        if cached is not None:
            return list(cached)
        version = self.cache.version
        row = await self._row(path)
        if row is None:
            raise NotFound(f"readdir: {path}: not found")
        if not row[0]:
            raise NotADirectory(f"not a directory: {path}")
        below = like_below(path, "!")
        rows = await self.backend.query(
            "SELECT path, is_dir, mode, size, mod_time, blob_id, version FROM files "
            "WHERE path LIKE ? ESCAPE '!' AND path NOT LIKE ? ESCAPE '!' AND path <> '/'",
            (below, below + "/%"),
            large=True,
        )
        meta = Meta("sqlfs")
        entries = await map_in_turns(
            lambda r: self._info(as_text(r[0]).rsplit("/", 1)[1], tuple(r[1:]), meta),  # type: ignore[arg-type]
            rows,
        )
        self.cache.put("list", path, tuple(entries), version)
        return entries

    # -- create / delete -------------------------------------------------------------------

    async def _insert(self, path: str, is_dir: bool, mode: int, op: str, what: str) -> None:
        if path == "/" or await self._row(path) is not None:
            raise AlreadyExists(f"{what} already exists: {path}")
        await self._require_dir(split_parent(path)[0], op)
        try:
            await self.backend.atomic(
                [
                    (
                        "INSERT INTO files (path, is_dir, mode, size, mod_time, data) "
                        "VALUES (?, ?, ?, 0, ?, ?)",
                        (path, int(is_dir), mode, int(time.time()), None if is_dir else b""),
                    )
                ]
            )
        except AlreadyExists:  # created concurrently
            raise AlreadyExists(f"{what} already exists: {path}") from None
        finally:
            self.cache.changed(path)

    async def create(self, path: str) -> None:
        await self._insert(path, False, 0o644, "create", "file")

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._insert(path, True, mode or 0o755, "mkdir", "directory")

    async def remove(self, path: str, recursive: bool = False) -> None:
        if path == "/" and not recursive:
            raise PermissionDenied("cannot remove root directory")
        try:
            if recursive:
                await self._remove_all(path)
                return
            row = await self.backend.query(_ROW, (path,))
            if not row:
                raise NotFound(f"remove: {path}: not found")
            if row[0][0]:
                below = await self.backend.query(
                    "SELECT 1 FROM files WHERE path LIKE ? ESCAPE '!' LIMIT 1",
                    (like_below(path, "!"),),
                    large=True,  # LIKE scans the table
                )
                if below:
                    raise NotEmpty(f"directory not empty: {path}")
            await self.backend.atomic(
                [(_DELETE_BLOB_OF, (path,)), ("DELETE FROM files WHERE path = ?", (path,))],
                large=row[0][4] is not None,  # a chunked file: many megabytes to free
            )
        finally:
            self.cache.changed(path, subtree=recursive)

    async def _remove_all(self, path: str) -> None:
        """Delete ``path`` and everything below it; a missing path is not an error (original)."""
        if path == "/":
            self.cache.clear()
            await self.backend.atomic(
                [("DELETE FROM file_chunks", ()), ("DELETE FROM files WHERE path <> '/'", ())],
                large=True,
            )
            return
        below = like_below(path, "!")
        await self.backend.atomic(
            [
                (
                    "DELETE FROM file_chunks WHERE blob_id IN (SELECT blob_id FROM files "
                    "WHERE (path = ? OR path LIKE ? ESCAPE '!') AND blob_id IS NOT NULL)",
                    (path, below),
                ),
                ("DELETE FROM files WHERE path = ? OR path LIKE ? ESCAPE '!'", (path, below)),
            ],
            large=True,
        )

    async def rename(self, old: str, new: str) -> None:
        if old == "/" or new == "/":
            raise PermissionDenied("cannot rename root directory")
        if new == old:
            return
        if new.startswith(old + "/"):
            raise InvalidArgument(f"invalid argument newPath: cannot move {old} into itself")
        if await self.backend.query(_ROW, (old,)) == []:
            raise NotFound(f"rename: {old}: not found")
        if await self.backend.query(_ROW, (new,)) != []:
            raise AlreadyExists(f"file already exists: {new}")
        await self._require_dir(split_parent(new)[0], "rename")
        try:

            def moved(counts: list[int]) -> None:
                if counts[0] != 1:
                    raise NotFound(f"rename: {old}: not found")

            await self.backend.atomic(
                [
                    ("UPDATE files SET path = ? WHERE path = ?", (new, old)),
                    (self.backend.move_subtree_sql, (new, len(old) + 1, like_below(old, "!"))),
                ],
                moved,
                large=True,  # the subtree's rows
            )
        except AlreadyExists:
            raise AlreadyExists(f"file already exists: {new}") from None
        finally:
            self.cache.changed(old, subtree=True)
            self.cache.changed(new, subtree=True)

    async def chmod(self, path: str, mode: int) -> None:
        if await self.backend.query(_ROW, (path,)) == []:
            raise NotFound(f"chmod: {path}: not found")
        try:
            await self.backend.atomic([("UPDATE files SET mode = ? WHERE path = ?", (mode, path))])
        finally:
            self.cache.changed(path)

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        if await self.backend.query(_ROW, (path,)) == []:
            raise NotFound(f"touch: {path}: not found")
        # mod_time holds whole seconds: the finer part is dropped, as on a coarse file system.
        seconds = mtime_ns // 1_000_000_000
        try:
            await self.backend.atomic(
                [("UPDATE files SET mod_time = ? WHERE path = ?", (seconds, path))]
            )
        finally:
            self.cache.changed(path)

    async def truncate(self, path: str, size: int) -> None:
        row = await self._file_row(path, "truncate")
        if size > self.max_file_size:
            raise self._too_large(str(size))
        kept = self._pieces(path, row, 0, min(size, int(row[2])))
        await self._write_chunked(path, row, resized(kept, size))

    # -- read ------------------------------------------------------------------------------

    async def _file_row(self, path: str, op: str) -> Row:
        row = await self._row(path)
        if row is None:
            raise NotFound(f"{op}: {path}: not found")
        if row[0]:
            raise IsADirectory(f"is a directory: {path}")
        return row

    @staticmethod
    def _span(size: int, offset: int, length: int) -> tuple[int, int]:
        """The range rule as (start, end) byte offsets, end exclusive."""
        start = max(offset, 0)
        if start >= size:
            return size, size
        end = size if length < 0 else min(start + length, size)
        return start, end

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        row = await self._file_row(path, "read")
        start, end = self._span(int(row[2]), offset, size)
        if start >= end:
            return b""
        pieces = [piece async for piece in self._pieces(path, row, start, end)]
        if len(pieces) < 2:
            return b"".join(pieces)
        return await asyncio.to_thread(b"".join, pieces)  # megabytes: copied off the loop

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        row = await self._file_row(path, "read")
        start, end = self._span(int(row[2]), offset, size)
        if row[4] is None:  # inline content: one query, answered as a plain response
            return Buffered(await self._inline(path, start, end))
        return self._pieces(path, row, start, end)

    async def _inline(self, path: str, start: int, end: int) -> bytes:
        if start >= end:
            return b""
        rows = await self.backend.query(
            "SELECT substr(data, ?, ?) FROM files WHERE path = ?", (start + 1, end - start, path)
        )
        return bytes(rows[0][0] or b"") if rows else b""

    async def _pieces(self, path: str, row: Row, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes [start, end) of the file: one query for inline data, one per chunk else."""
        if start >= end:
            return
        blob_id = row[4]
        if blob_id is None:
            yield await self._inline(path, start, end)
            return
        position = start
        while position < end:
            rows = await self.backend.query(
                "SELECT start, data FROM file_chunks WHERE blob_id = ? AND start <= ? "
                "ORDER BY start DESC LIMIT 1",
                (blob_id, position),
                large=True,  # a whole chunk
            )
            if not rows:
                raise NotFound(f"read: {path}: content changed while reading")
            chunk_start, data = int(rows[0][0]), rows[0][1]
            piece = bytes(data[position - chunk_start : end - chunk_start])
            if not piece:
                raise NotFound(f"read: {path}: content changed while reading")
            yield piece
            position += len(piece)

    # -- write -----------------------------------------------------------------------------

    async def _check_write(self, path: str, flags: WriteFlag) -> Row | None:
        if path == "/":
            raise IsADirectory(f"is a directory: {path}")
        row = await self._row(path)
        if row is not None:
            if row[0]:
                raise IsADirectory(f"is a directory: {path}")
            if flags & WriteFlag.EXCLUSIVE:
                raise AlreadyExists(f"file already exists: {path}")
            return row
        if not flags & WriteFlag.CREATE:
            raise NotFound(f"write: {path}: not found")
        await self._require_dir(split_parent(path)[0], "write")
        return None

    def _too_large(self, got: str) -> TooLarge:
        return TooLarge(
            f"file size exceeds maximum limit of {_human(self.max_file_size)} (got {got} bytes)"
        )

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        row = await self._check_write(path, flags)
        size = written_size(None if row is None else int(row[2]), len(data), offset, flags)
        if size > self.max_file_size:  # checked before a sparse write fills its gap
            raise self._too_large(str(size))
        if (
            row is not None
            and (offset > 0 or flags & WriteFlag.APPEND)
            and not (flags & WriteFlag.TRUNCATE)
        ):
            data = await asyncio.to_thread(apply_write, await self.read(path), data, offset, flags)
        elif offset > 0:
            data = apply_write(None, data, offset, flags)
        if len(data) > self.max_file_size:
            raise self._too_large(str(len(data)))
        if len(data) <= self.backend.chunk_size:
            await self._commit(
                path,
                row,
                [
                    (
                        self.backend.upsert_file_sql,
                        (path, 0o644, len(data), int(time.time()), data, None, _new_version()),
                    )
                ],
            )
        else:
            await self._write_chunked(path, row, _pieces_of(data, self.backend.chunk_size))
        return f"Written {len(data)} bytes to {path}"

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """A whole replacement streams into chunks (``limit`` does not apply; ``max_file_size``
        does); partial writes are buffered and go through :meth:`write`."""
        if offset > 0 or (flags & WriteFlag.APPEND and not flags & WriteFlag.TRUNCATE):
            return await super().write_stream(path, chunks, offset, flags, limit)
        row = await self._check_write(path, flags)
        total = await self._write_chunked(path, row, chunks)
        return f"Written {total} bytes to {path}"

    async def _commit(
        self, path: str, row: Row | None, statements: list, guard: Statement | None = None
    ) -> None:
        """Swap the new content in (one transaction); with ``guard``, a statement that must
        change exactly one row, only if the file is still in the state a condition was checked
        against (else PreconditionFailed, everything rolled back)."""
        check = None
        first = []
        if guard is not None:
            first = [guard]

            def check(counts: list[int]) -> None:
                if counts[0] != 1:
                    raise PreconditionFailed(
                        f"precondition failed: {path} was changed by another writer meanwhile"
                    )

        try:
            # Replacing a chunked file frees its chunks: many megabytes, off the loop.
            large = row is not None and row[4] is not None
            await self.backend.atomic(
                [*first, (_DELETE_BLOB_OF, (path,)), *statements], check, large=large
            )
        except AlreadyExists:  # the guard's insert met a file created meanwhile
            raise PreconditionFailed(
                f"precondition failed: {path} was created by another writer meanwhile"
            ) from None
        finally:
            self.cache.changed(path)

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """Checked against the row now; the transaction that swaps the new content in first
        updates the row only where its version, size and time are still those checked (or
        inserts it where there was none), so another writer in between, through this server or
        another sharing the database, makes it fail with nothing changed."""
        if not replaces(offset, flags):
            raise NotSupported(
                f"conditional write: {path}: sqlfs compares and swaps whole files only "
                "(write without offset or append)"
            )
        row = await self._fresh_row(path)
        check_expect(expect, None if row is None else self._info("", row, Meta()))
        await self._check_write(path, flags)  # a directory, a missing parent, exclusive
        total = await self._write_chunked(path, row, chunks, self._guard(path, row))
        return f"Written {total} bytes to {path}"

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        """A file is deleted by one statement that matches only the state checked."""
        row = await self._fresh_row(path)
        check_expect(expect, None if row is None else self._info("", row, Meta()))
        if row is None:
            raise NotFound(f"remove: {path}: not found")
        if row[0]:
            raise NotSupported(f"conditional remove: {path}: a directory has no ETag")
        where, args = _same_state(path, row)
        blob = [("DELETE FROM file_chunks WHERE blob_id = ?", (row[4],))] if row[4] else []
        await self._commit(path, row, blob, ("DELETE FROM files " + where, args))

    @staticmethod
    def _guard(path: str, row: Row | None) -> Statement:
        """The statement that pins a conditional write to the state checked: it changes one
        row only if that state is still there (no row: it inserts the placeholder the write
        then fills, and fails on a row created meanwhile)."""
        if row is None:
            return (
                "INSERT INTO files (path, is_dir, mode, size, mod_time, data) "
                "VALUES (?, 0, 420, 0, 0, NULL)",
                (path,),
            )
        where, args = _same_state(path, row)
        return ("UPDATE files SET version = ? " + where, (_new_version(), *args))

    async def _fresh_row(self, path: str) -> Row | None:
        """The row as the database has it now (never the metadata cache's)."""
        rows = await self.backend.query(_ROW, (path,))
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    async def _write_chunked(
        self,
        path: str,
        row: Row | None,
        chunks: AsyncIterator[bytes],
        guard: Statement | None = None,
    ) -> int:
        """Stage the body as chunks of a new blob, then swap it in with one transaction."""
        chunk_size = self.backend.chunk_size
        blob_id = uuid.uuid4().hex
        buffer = bytearray()
        total = 0
        staged = 0
        try:
            async for piece in chunks:
                total += len(piece)
                if total > self.max_file_size:
                    raise self._too_large(f"more than {self.max_file_size}")
                buffer += piece
                while len(buffer) >= chunk_size:
                    await self._stage(blob_id, staged, bytes(buffer[:chunk_size]))
                    staged += chunk_size
                    del buffer[:chunk_size]
            now = int(time.time())
            if staged == 0:  # small after all: keep it inline like the original
                await self._commit(
                    path,
                    row,
                    [
                        (
                            self.backend.upsert_file_sql,
                            (path, 0o644, total, now, bytes(buffer), None, _new_version()),
                        )
                    ],
                    guard,
                )
                return total
            if buffer:
                await self._stage(blob_id, staged, bytes(buffer))
            await self._commit(
                path,
                row,
                [
                    (
                        self.backend.upsert_file_sql,
                        (path, 0o644, total, now, None, blob_id, _new_version()),
                    )
                ],
                guard,
            )
            blob_id = ""
            return total
        finally:
            if blob_id and staged:
                await self.backend.atomic(
                    [("DELETE FROM file_chunks WHERE blob_id = ?", (blob_id,))], large=True
                )

    async def _stage(self, blob_id: str, start: int, data: bytes) -> None:
        await self.backend.atomic(
            [
                (
                    "INSERT INTO file_chunks (blob_id, start, data) VALUES (?, ?, ?)",
                    (blob_id, start, data),
                )
            ],
            large=True,  # a whole chunk
        )


def _same_state(path: str, row: Row) -> tuple[str, tuple[Any, ...]]:
    """``WHERE`` clause and arguments matching ``path``'s row only while it is as ``row``."""
    _, _, size, mod_time, _, version = row
    return (
        "WHERE path = ? AND is_dir = 0 AND size = ? AND mod_time = ? "
        "AND COALESCE(version, '') = ?",
        (path, size, mod_time, as_text(version) if version else ""),
    )


def _new_version() -> str:
    return uuid.uuid4().hex


async def _pieces_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
