"""The nats back end of kvfs: a JetStream KV bucket per namespace (``<prefix>_<namespace>``),
shared by every server naming the same ``key_prefix`` and ``namespace``.

Keys are stored base64url-encoded (KV keys allow few characters; kvfs keys are any path text).
Writes are compare-and-set on the key's revision (``create`` for a new key, ``update`` with the
last revision otherwise), retried when another writer got there first, so two servers never
interleave halves of two writes. A value is at most the server's ``max_payload`` (1 MiB by
default): a larger one is refused with 413 naming it. ``clear`` purges the bucket's stream.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from typing import Any

from pfs.engines import EngineOptions, engine_call
from pfs.engines.nats import open_nats
from pfs.fs import TooLarge, Unavailable
from pfs.plugins.kvfs.backend import (
    Guard,
    KVBackend,
    State,
    Updater,
    check_key,
    check_namespace,
    key_exists,
    key_not_found,
)

try:
    from nats.js import errors as _js
except ImportError:  # open_nats names the missing extra
    _js = None  # type: ignore[assignment]

_PLAIN_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Times a compare-and-set write starts again after another writer changed the key under it.
_RETRIES = 100
#: Values read at once when listing sizes.
_LIST_CONCURRENCY = 32


def encode_key(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_key(name: str) -> str:
    return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()


class NATSBackend(KVBackend):
    def __init__(self, options: EngineOptions, namespace: str) -> None:
        self.options = options
        check_namespace(namespace)
        if not _PLAIN_NAMESPACE.match(namespace):
            namespace = "h" + hashlib.sha256(namespace.encode()).hexdigest()[:24]
        self.bucket = f"{options.prefix}_{namespace}"
        self.nc: Any = None
        self.kv: Any = None

    def _call(self) -> Any:
        return engine_call(self.options, lambda: self.nc is not None and self.nc.is_connected)

    async def start(self, initial: dict[str, bytes]) -> None:
        self.nc, js = await open_nats(self.options)
        self.js = js
        async with self._call():
            self.kv = await js.create_key_value(bucket=self.bucket, history=1)
            for key, value in initial.items():
                try:
                    await self.kv.create(encode_key(check_key(key)), value)
                except _js.KeyWrongLastSequenceError:
                    continue  # kept: initial data never overwrites

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()
            self.nc = None

    async def _entry(self, key: str) -> Any | None:
        try:
            return await self.kv.get(encode_key(key))
        except (_js.KeyNotFoundError, _js.KeyDeletedError):
            return None

    async def get(self, key: str) -> bytes | None:
        async with self._call():
            entry = await self._entry(key)
        return None if entry is None else (entry.value or b"")

    async def size(self, key: str) -> int | None:
        value = await self.get(key)
        return None if value is None else len(value)

    async def state(self, key: str) -> State:
        """Size and version; the version is the KV revision (it changes with every write)."""
        async with self._call():
            entry = await self._entry(key)
        return None if entry is None else (len(entry.value or b""), str(entry.revision))

    async def delete_if(self, key: str, guard: Guard) -> None:
        async with self._call():
            entry = await self._entry(key)
            guard(None if entry is None else (len(entry.value or b""), str(entry.revision)))
            if entry is None:
                raise key_not_found(key)
            try:
                await self.kv.delete(encode_key(key), last=entry.revision)
            except _js.KeyWrongLastSequenceError:
                raise Unavailable(f"kvfs: {key} changed during a conditional delete") from None

    def _check_size(self, value: bytes) -> None:
        limit = self.nc.max_payload
        if len(value) > limit:
            raise TooLarge(
                f"value would be {len(value)} bytes: the nats server at {self.options.address} "
                f"takes at most {limit} bytes (its max_payload)"
            )

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        name = encode_key(check_key(key))
        async with self._call():
            for _ in range(_RETRIES):
                entry = await self._entry(key)
                if guard is not None:
                    size = len(entry.value or b"") if entry is not None else 0
                    guard(None if entry is None else (size, str(entry.revision)))
                value = fn(None if entry is None else (entry.value or b""))
                self._check_size(value)
                try:
                    if entry is None:
                        await self.kv.create(name, value)
                    else:
                        await self.kv.update(name, value, last=entry.revision)
                    return
                except _js.KeyWrongLastSequenceError:
                    continue
            raise Unavailable(f"kvfs: {key} kept changing under {_RETRIES} write attempts")

    async def create(self, key: str) -> None:
        async with self._call():
            try:
                await self.kv.create(encode_key(check_key(key)), b"")
            except _js.KeyWrongLastSequenceError:
                raise key_exists(key) from None

    async def delete(self, key: str) -> None:
        async with self._call():
            entry = await self._entry(key)
            if entry is None:
                raise key_not_found(key)
            try:
                await self.kv.purge(encode_key(key))
            except _js.KeyNotFoundError:
                raise key_not_found(key) from None

    async def clear(self) -> None:
        async with self._call():
            await self.js.purge_stream(f"KV_{self.bucket}")

    async def sizes(self) -> list[tuple[str, int]]:
        async with self._call():
            try:
                names = await self.kv.keys()
            except _js.NoKeysError:
                return []
            gate = asyncio.Semaphore(_LIST_CONCURRENCY)

            async def sized(name: str) -> tuple[str, int] | None:
                async with gate:
                    key = decode_key(name)
                    entry = await self._entry(key)
                return None if entry is None else (key, len(entry.value or b""))

            found = await asyncio.gather(*(sized(name) for name in names))
        return [pair for pair in found if pair is not None]

    async def rename(self, old: str, new: str) -> None:
        check_key(new)
        async with self._call():
            entry = await self._entry(old)
            if entry is None:
                raise key_not_found(old)
            try:
                await self.kv.create(encode_key(new), entry.value or b"")
            except _js.KeyWrongLastSequenceError:
                raise key_exists(new) from None
            await self.kv.purge(encode_key(old))
