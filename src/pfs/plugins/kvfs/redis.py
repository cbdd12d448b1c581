"""The redis back end of kvfs: one Redis string per key, shared by every server naming the
same ``key_prefix`` and ``namespace``.

Values live at ``<prefix><namespace>:v:<key>`` and a set ``<prefix><namespace>:keys`` lists the
keys (an entry whose value expired is dropped from it when a listing meets it). Create, delete,
rename and clear are Lua scripts (atomic); a write with an offset or flags is a read-modify-write
under ``WATCH``, retried when another writer got there first, so two servers never interleave
halves of two writes. A key may expire: ``ttl`` / ``set_ttl`` are ``PTTL`` / ``PEXPIRE``, and
writes keep the expiry a key has (``SET … KEEPTTL``).
"""

from __future__ import annotations

from typing import Any

from pfs.engines import EngineOptions, engine_call
from pfs.engines.redis import close_redis, open_redis
from pfs.fs import Unavailable
from pfs.plugins.kvfs.backend import (
    KVBackend,
    Updater,
    check_key,
    check_namespace,
    key_exists,
    key_not_found,
)

try:
    from redis.exceptions import WatchError
except ImportError:  # open_redis names the missing extra
    WatchError = Exception  # type: ignore[assignment,misc]

#: Keys listed (and checked) per script call.
SCAN_BATCH = 1000
#: Times a read-modify-write starts again after another writer changed the key under it.
_RETRIES = 100

_SIZE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('STRLEN', KEYS[1])
"""
_CREATE = """
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
_DELETE = """
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""
_RENAME = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""
#: One SSCAN step: (next cursor, [key, size, ...]); keys whose value is gone leave the set.
_SIZES = """
local step = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[3])
local out = {}
for _, key in ipairs(step[2]) do
  local value = ARGV[2] .. key
  if redis.call('EXISTS', value) == 1 then
    out[#out + 1] = key
    out[#out + 1] = redis.call('STRLEN', value)
  else
    redis.call('SREM', KEYS[1], key)
  end
end
return {step[1], out}
"""
_CLEAR_STEP = """
local step = redis.call('SSCAN', KEYS[1], 0, 'COUNT', ARGV[2])
for _, key in ipairs(step[2]) do
  redis.call('DEL', ARGV[1] .. key)
  redis.call('SREM', KEYS[1], key)
end
return redis.call('SCARD', KEYS[1])
"""


class RedisBackend(KVBackend):
    expires = True

    def __init__(self, options: EngineOptions, namespace: str) -> None:
        self.options = options
        base = f"{options.prefix}{check_namespace(namespace)}:"
        self._values = f"{base}v:"
        self._index = f"{base}keys"
        self.redis: Any = None
        self._scripts: dict[str, Any] = {}

    def _key(self, key: str) -> str:
        return self._values + key

    async def start(self, initial: dict[str, bytes]) -> None:
        self.redis = await open_redis(self.options)
        for name, source in (
            ("size", _SIZE),
            ("create", _CREATE),
            ("delete", _DELETE),
            ("rename", _RENAME),
            ("sizes", _SIZES),
            ("clear", _CLEAR_STEP),
        ):
            self._scripts[name] = self.redis.register_script(source)
        for key, value in initial.items():
            await self._run("create", [self._key(check_key(key)), self._index], [key, value])

    async def close(self) -> None:
        if self.redis is not None:
            await close_redis(self.redis)
            self.redis = None

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        async with engine_call(self.options):
            return await self._scripts[script](keys=keys, args=args)

    async def get(self, key: str) -> bytes | None:
        async with engine_call(self.options):
            return await self.redis.get(self._key(key))

    async def size(self, key: str) -> int | None:
        size = int(await self._run("size", [self._key(key)], []))
        return None if size < 0 else size

    async def update(self, key: str, fn: Updater, incoming: int = 0) -> None:
        check_key(key)
        name = self._key(key)
        async with engine_call(self.options):
            for _ in range(_RETRIES):
                async with self.redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(name)
                    value = fn(await pipe.get(name))
                    pipe.multi()
                    pipe.set(name, value, keepttl=True)
                    pipe.sadd(self._index, key)
                    try:
                        await pipe.execute()
                        return
                    except WatchError:
                        continue
            raise Unavailable(f"kvfs: {key} kept changing under {_RETRIES} write attempts")

    async def create(self, key: str) -> None:
        if not await self._run("create", [self._key(check_key(key)), self._index], [key, b""]):
            raise key_exists(key)

    async def delete(self, key: str) -> None:
        if not await self._run("delete", [self._key(key), self._index], [key]):
            raise key_not_found(key)

    async def clear(self) -> None:
        while await self._run("clear", [self._index], [self._values, SCAN_BATCH]):
            pass

    async def sizes(self) -> list[tuple[str, int]]:
        pairs: dict[str, int] = {}
        cursor: bytes | int = 0
        while True:
            cursor, found = await self._run(
                "sizes", [self._index], [cursor, self._values, SCAN_BATCH]
            )
            for key, size in zip(found[::2], found[1::2], strict=True):
                pairs[key.decode()] = int(size)
            if int(cursor) == 0:
                return list(pairs.items())

    async def rename(self, old: str, new: str) -> None:
        check_key(new)
        done = await self._run(
            "rename", [self._key(old), self._key(new), self._index], [old, new]
        )
        if done == -1:
            raise key_not_found(old)
        if done == -2:
            raise key_exists(new)

    async def ttl(self, key: str) -> float | None:
        async with engine_call(self.options):
            ms = await self.redis.pttl(self._key(key))
        if ms == -2:
            raise key_not_found(key)
        return None if ms < 0 else ms / 1000

    async def set_ttl(self, key: str, seconds: float) -> None:
        name = self._key(key)
        async with engine_call(self.options):
            if seconds > 0:
                found = await self.redis.pexpire(name, max(1, int(seconds * 1000)))
            else:
                found = await self.redis.persist(name) or await self.redis.exists(name)
        if not found:
            raise key_not_found(key)
