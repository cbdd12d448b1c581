"""The redis back end of kvfs: one Redis hash per key (field ``v`` the value, ``ver`` its
version), shared by every server naming the same ``key_prefix`` and ``namespace``.

Keys live at ``<prefix><namespace>:v:<key>`` and a set ``<prefix><namespace>:keys`` lists the
keys (an entry whose value expired is dropped from it when a listing meets it). Create, delete,
rename and clear are Lua scripts (atomic); a write with an offset or flags is a read-modify-write
under ``WATCH``, retried when another writer got there first, so two servers never interleave
halves of two writes; a conditional write or delete checks the key's size and version inside
that same transaction. A key may expire: ``ttl`` / ``set_ttl`` are ``PTTL`` / ``PEXPIRE``, and
writes keep the expiry a key has (``HSET`` leaves it).
"""

from __future__ import annotations

from typing import Any

from pfs.engines import EngineOptions, engine_call
from pfs.engines.redis import close_redis, open_redis
from pfs.fs import Unavailable
from pfs.plugins.kvfs.backend import (
    Guard,
    KVBackend,
    State,
    Updater,
    check_key,
    check_namespace,
    key_exists,
    key_not_found,
    new_version,
)

try:
    from redis.exceptions import WatchError
except ImportError:  # open_redis names the missing extra
    WatchError = Exception  # type: ignore[assignment,misc]

#: Keys listed (and checked) per script call.
SCAN_BATCH = 1000
#: Times a read-modify-write starts again after another writer changed the key under it.
_RETRIES = 100

_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return {redis.call('HSTRLEN', KEYS[1], 'v'), redis.call('HGET', KEYS[1], 'ver') or '0'}
"""
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'ver', ARGV[3])
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
    out[#out + 1] = redis.call('HSTRLEN', value, 'v')
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
            ("state", _STATE),
            ("create", _CREATE),
            ("delete", _DELETE),
            ("rename", _RENAME),
            ("sizes", _SIZES),
            ("clear", _CLEAR_STEP),
        ):
            self._scripts[name] = self.redis.register_script(source)
        for key, value in initial.items():
            await self._run(
                "create", [self._key(check_key(key)), self._index], [key, value, new_version()]
            )

    async def close(self) -> None:
        if self.redis is not None:
            await close_redis(self.redis)
            self.redis = None

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        async with engine_call(self.options):
            return await self._scripts[script](keys=keys, args=args)

    async def get(self, key: str) -> bytes | None:
        async with engine_call(self.options):
            return await self.redis.hget(self._key(key), "v")

    async def size(self, key: str) -> int | None:
        state = await self.state(key)
        return None if state is None else state[0]

    async def state(self, key: str) -> State:
        found = await self._run("state", [self._key(key)], [])
        return None if not found else (int(found[0]), found[1].decode())

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        check_key(key)

        def change(pipe: Any, old: bytes | None, exists: bool) -> None:
            value = fn(old if exists else None)
            pipe.multi()
            pipe.hset(self._key(key), mapping={"v": value, "ver": new_version()})
            pipe.sadd(self._index, key)

        await self._watched(key, change, guard)

    async def delete_if(self, key: str, guard: Guard) -> None:
        def change(pipe: Any, old: bytes | None, exists: bool) -> None:
            pipe.multi()
            pipe.delete(self._key(key))
            pipe.srem(self._index, key)

        await self._watched(key, change, guard)

    async def _watched(self, key: str, change: Any, guard: Guard | None) -> None:
        """Read ``key`` under ``WATCH``, let ``guard`` see its state, queue ``change`` and run
        it; again when another writer changed the key in between."""
        name = self._key(key)
        async with engine_call(self.options):
            for _ in range(_RETRIES):
                async with self.redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(name)
                    old, version = await pipe.hmget(name, ["v", "ver"])
                    exists = old is not None
                    if guard is not None:
                        guard((len(old), (version or b"0").decode()) if exists else None)
                    change(pipe, old, exists)
                    try:
                        await pipe.execute()
                        return
                    except WatchError:
                        continue
            raise Unavailable(f"kvfs: {key} kept changing under {_RETRIES} write attempts")

    async def create(self, key: str) -> None:
        keys = [self._key(check_key(key)), self._index]
        if not await self._run("create", keys, [key, b"", new_version()]):
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
