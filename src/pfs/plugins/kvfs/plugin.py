"""kvfs: a key/value store as files under ``/keys``, in memory or shared through SQL, Redis or
NATS JetStream.

Back ends live in sibling modules (memory, sqlite, mysql, postgres, redis, nats) behind
:class:`~pfs.plugins.kvfs.backend.KVBackend`; this module holds the paths and write semantics.
On back ends whose keys can expire (redis) ``/ttl/<key>`` reads and sets a key's time to live.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pfs.engines import ENGINE_BACKENDS, ENGINE_CONFIG_FIELDS, engine_options
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
    NotFound,
    NotSupported,
    TooLarge,
    WriteFlag,
    apply_write,
    read_range,
)
from pfs.fs.base import Expect, check_expect, written_size
from pfs.fs.turns import map_in_turns
from pfs.plugins.kvfs.backend import KVBackend, State, key_not_found
from pfs.plugins.kvfs.memory import MemoryBackend
from pfs.plugins.kvfs.mysql import MySQLBackend
from pfs.plugins.kvfs.postgres import PostgresBackend
from pfs.plugins.kvfs.sqlite import SQLiteBackend
from pfs.sql import SQL_CONFIG_FIELDS, backend_field, backend_is_shared, choose_backend

#: Default of ``max_value_size``: the server's default body limit (kvfs values are buffered whole).
DEFAULT_MAX_VALUE_SIZE = 64 << 20


class KVFS(FileSystem):
    fstype = "kvfs"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return backend_is_shared(config["backend"])

    config_schema = (
        Field("initial_data", "map", default={}, help="keys loaded at mount (kept if present)"),
        backend_field("where pairs live", ENGINE_BACKENDS),
        Field(
            "namespace",
            "string",
            default="default",
            help="sqlite/mysql/postgres/redis/nats: mounts naming the same namespace share "
            "their keys",
        ),
        Field(
            "max_value_size",
            "size",
            default=DEFAULT_MAX_VALUE_SIZE,
            min=1,
            max=1 << 30,  # SQLite's and MySQL's largest value (max_allowed_packet) are ~1 GB
            help="largest value; writes that would grow a value past it are refused (413)",
        ),
        *SQL_CONFIG_FIELDS,
        *ENGINE_CONFIG_FIELDS,
    )
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.readme = self.load_readme("pfs.plugins.docs", "kvfs.md").encode()
        self.backend_name = config["backend"]
        self.max_value_size = int(config["max_value_size"])
        namespace = config["namespace"]
        self.backend: KVBackend = choose_backend(
            self.backend_name,
            config,
            memory=MemoryBackend,
            sqlite=lambda path: SQLiteBackend(path, namespace),
            mysql=lambda options: MySQLBackend(options, namespace),
            postgres=lambda options: PostgresBackend(options, namespace),
            engines={
                "redis": lambda config: _redis_backend(config, namespace),
                "nats": lambda config: _nats_backend(config, namespace),
            },
            sqlite_file="kvfs.db",
            database="kvdb",
        )
        self.initial = {
            str(key): _scalar_text(value).encode()
            for key, value in (config.get("initial_data") or {}).items()
        }

    async def start(self) -> None:
        await self.backend.start(self.initial)

    async def shutdown(self) -> None:
        await self.backend.close()

    @staticmethod
    def _ttl_key(path: str) -> str:
        key = path[len("/ttl/") :]
        if not key:
            raise InvalidArgument("key name cannot be empty")
        return key

    @staticmethod
    def _key(path: str) -> str:
        if not path.startswith("/keys/"):
            raise InvalidArgument(f"invalid argument path={path}: keys must be under /keys/")
        key = path[len("/keys/") :]
        if not key:
            raise InvalidArgument("key name cannot be empty")
        return key

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o755, is_dir=True, meta=Meta("kvfs", "dir"))
        if path == "/README":
            return self.readme_info()
        if path == "/keys":
            return FileInfo("keys", 0, 0o755, is_dir=True, meta=Meta("kvfs", "dir"))
        if path == "/ttl" and self.backend.expires:
            return FileInfo("ttl", 0, 0o755, is_dir=True, meta=Meta("kvfs", "dir"))
        if path.startswith("/ttl/") and self.backend.expires:
            key = self._ttl_key(path)
            text = _ttl_text(await self.backend.ttl(key))
            return FileInfo(key.rsplit("/", 1)[-1], len(text), 0o644, meta=Meta("kvfs", "ttl"))
        if not path.startswith("/keys/"):
            raise NotFound(f"invalid path: {path}")
        key = path[len("/keys/") :]
        state = await self.backend.state(key)
        if state is None:
            raise key_not_found(key)
        return _key_info(key, state)

    async def readdir(self, path: str) -> list[FileInfo]:
        if path == "/":
            listing = [await self.stat("/README"), await self.stat("/keys")]
            return [*listing, await self.stat("/ttl")] if self.backend.expires else listing
        if path == "/ttl" and self.backend.expires:
            meta = Meta("kvfs", "ttl")
            return [
                FileInfo(key.rsplit("/", 1)[-1], 0, 0o644, meta=meta)
                for key, _ in await self.backend.sizes()
            ]
        if path == "/keys":
            now = time.time_ns()
            meta = Meta("kvfs", "file")
            return await map_in_turns(
                lambda pair: FileInfo(pair[0].rsplit("/", 1)[-1], pair[1], 0o644, now, meta=meta),
                await self.backend.sizes(),
            )
        raise NotADirectory(f"not a directory: {path}")

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/README":
            return read_range(self.readme, offset, size)
        if path in ("/", "/keys", "/ttl"):
            raise IsADirectory(f"is a directory: {path}")
        if path.startswith("/ttl/"):
            text = _ttl_text(await self.backend.ttl(self._ttl_key(path)))
            return read_range(text, offset, size)
        if not path.startswith("/keys/"):
            raise NotFound(f"invalid path: {path}")
        key = self._key(path)
        value = await self.backend.get(key)
        if value is None:
            raise key_not_found(key)
        return read_range(value, offset, size)

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """The back end checks ``expect`` against the key's size and version inside the
        transaction that writes the new value (SQL: under the row's lock)."""
        data = await self._body(path, chunks, limit)
        return await self._write(path, data, offset, flags, expect)

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        if not path.startswith("/keys/"):
            raise NotSupported(f"conditional remove: {path}: only keys have an ETag")
        key = self._key(path)

        def guard(state: State) -> None:
            check_expect(expect, None if state is None else _key_info(key, state))
            if state is None:
                raise key_not_found(key)

        await self.backend.delete_if(key, guard)

    async def _body(self, path: str, chunks: AsyncIterator[bytes], limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        cap = min(limit, self.max_value_size)
        async for chunk in chunks:
            total += len(chunk)
            if total > cap:
                raise TooLarge(f"write: {path}: value over the limit of {cap} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        return await self._write(path, data, offset, flags, None)

    async def _write(
        self, path: str, data: bytes, offset: int, flags: WriteFlag, expect: Expect | None
    ) -> str:
        if path in ("/", "/keys", "/ttl"):
            raise IsADirectory(f"cannot write to directory: {path}")
        if path.startswith("/ttl/"):
            await self.backend.set_ttl(self._ttl_key(path), _parse_ttl(data))
            return ""
        key = self._key(path)
        guard = None
        if expect is not None:

            def guard(state: State) -> None:
                check_expect(expect, None if state is None else _key_info(key, state))

        def new_value(old: bytes | None) -> bytes:
            if old is None and not flags & WriteFlag.CREATE:
                raise key_not_found(key)
            if old is not None and flags & WriteFlag.EXCLUSIVE:
                raise AlreadyExists(f"key already exists: {key}")
            size = written_size(None if old is None else len(old), len(data), offset, flags)
            if size > self.max_value_size:
                raise TooLarge(
                    f"value would be {size} bytes, over the max_value_size of "
                    f"{self.max_value_size} bytes"
                )
            return apply_write(old, data, offset, flags)

        await self.backend.update(key, new_value, len(data), guard)
        return ""

    async def truncate(self, path: str, size: int) -> None:
        if path in ("/", "/keys", "/ttl"):
            raise IsADirectory(f"is a directory: {path}")
        if path.startswith("/ttl/"):
            return  # a shell's `echo 60 > ttl/k` truncates first: the write sets the TTL
        key = self._key(path)
        if size > self.max_value_size:
            raise TooLarge(
                f"value would be {size} bytes, over the max_value_size of "
                f"{self.max_value_size} bytes"
            )

        def cut_or_grown(old: bytes | None) -> bytes:
            if old is None:
                raise key_not_found(key)
            return old[:size] if size <= len(old) else old + bytes(size - len(old))

        await self.backend.update(key, cut_or_grown, size)

    async def create(self, path: str) -> None:
        if path in ("/", "/keys"):
            raise InvalidArgument(f"cannot create: {path}")
        await self.backend.create(self._key(path))

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        if path == "/keys":
            return
        raise NotSupported("cannot create directories in kvfs service")

    async def remove(self, path: str, recursive: bool = False) -> None:
        if path == "/keys" and recursive:
            await self.backend.clear()
            return
        if not path.startswith("/keys/"):
            raise InvalidArgument(
                f"invalid argument path={path}: can only remove keys under /keys/"
            )
        await self.backend.delete(self._key(path))

    async def rename(self, old: str, new: str) -> None:
        if not (old.startswith("/keys/") and new.startswith("/keys/")):
            raise InvalidArgument("can only rename keys under /keys/")
        await self.backend.rename(self._key(old), self._key(new))

    async def chmod(self, path: str, mode: int) -> None:
        raise NotSupported("cannot change permissions in kvfs service")


def _key_info(key: str, state: tuple[int, str]) -> FileInfo:
    size, version = state
    # No times are kept: the version, new with every write, is what the ETag is made of.
    return FileInfo(key.rsplit("/", 1)[-1], size, 0o644, meta=Meta("kvfs", "file"), version=version)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: Longest time to live accepted (a year and a day, in seconds).
MAX_TTL = 366 * 86400.0


def _ttl_text(seconds: float | None) -> bytes:
    """Seconds left as text, to the millisecond; ``0``: the key never expires."""
    if seconds is None:
        return b"0"
    return f"{seconds:.3f}".rstrip("0").rstrip(".").encode()


def _parse_ttl(data: bytes) -> float:
    text = data.decode("utf-8", errors="replace").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_TTL:
        raise InvalidArgument(
            f"invalid ttl {text!r}: expected seconds between 0 and {int(MAX_TTL)} "
            "(0: never expires)"
        )
    return seconds


def _redis_backend(config: dict[str, Any], namespace: str) -> KVBackend:
    # Imported here: the module needs the redis extra, which a server may not have.
    from pfs.plugins.kvfs.redis import RedisBackend

    return RedisBackend(engine_options("redis", config, "pfs:kvfs:"), namespace)


def _nats_backend(config: dict[str, Any], namespace: str) -> KVBackend:
    from pfs.plugins.kvfs.nats import NATSBackend

    return NATSBackend(engine_options("nats", config, "pfs_kvfs"), namespace)
