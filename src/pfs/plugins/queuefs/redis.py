"""The redis backend: one Redis Stream per queue, read through one consumer group.

Every operation is one Lua script, so it is atomic on the server however many PFS servers
share the queues:

* destructive dequeue (the default): ``XREADGROUP`` then ``XACK`` + ``XDEL`` of what it read,
  in one script: no entry is given out twice, whichever server asks.
* at-least-once (``visibility_timeout`` > 0): ``XAUTOCLAIM`` first takes an entry whose delivery
  has been pending longer than the timeout (its delivery count goes up), else ``XREADGROUP``
  gives a new one; ``ack`` is ``XACK`` + ``XDEL``.

Message ids are numbers built from the entry id ``ms-seq``: ``(ms * 10**6 + seq) * 1000 +
delivery - 1``. The last three digits count redeliveries (capped at 999), so an ack names one
delivery: a late ack of a copy that was redelivered since is refused (404) instead of acking the
new copy, whose consumer still works on it. ``size`` is ``XLEN`` minus the pending count (O(1));
in-flight entries count as in flight until redelivered, even past their deadline. A queue switched
from at-least-once back to the destructive mode (visibility 0) still gives out what was then in
flight once the timeout it was taken with (kept per queue in ``<prefix>lastvis``) has passed.

``put_back`` (a blocking dequeue whose client left) puts the message in a per-queue sorted set
that dequeues and peeks read first, so it comes back in its place.

Keys (``key_prefix``, default ``pfs:queuefs:``): ``<prefix>q:<queue>`` the streams,
``<prefix>back:<queue>`` the put-back messages,
``<prefix>queues`` the set of queue names, hashes ``<prefix>visibility``, ``<prefix>last``
(last enqueue time, ns) and ``<prefix>cursor`` (where the next ``XAUTOCLAIM`` scan starts).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from pfs.engines import EngineOptions, engine_call
from pfs.engines.redis import close_redis, open_redis
from pfs.plugins.queuefs.backend import Message, QueueBackend, is_below

GROUP = "pfs"
#: How long a queue's own visibility timeout is cached (seconds), as the mysql backend does.
VISIBILITY_CACHE_SECONDS = 1.0
MAX_DELIVERY_DIGIT = 999

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
end
redis.call('SADD', KEYS[2], ARGV[2])
"""

_ENQUEUE = (
    _CREATE
    + """
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return redis.call('XADD', KEYS[1], '*', 'd', ARGV[3], 't', ARGV[4])
"""
)

#: Put-back messages (``put_back``) wait in a sorted set ``<prefix>back:<queue>`` whose members
#: sort by entry id (all scores 0: lexicographic order): ``<21-digit entry id>p`` for an entry
#: still pending in the stream, ``<21-digit entry id>m<20-digit enqueue ns><data>`` for one the
#: destructive dequeue deleted. Dequeues and peeks take them first.
_BACK = """
local function back_entry(stream, member)
  local id = tonumber(string.sub(member, 1, 15)) .. '-' .. tonumber(string.sub(member, 16, 21))
  if string.sub(member, 22, 22) == 'p' then
    local e = redis.call('XRANGE', stream, id, id)[1]
    return id, e and e[2], 'p'
  end
  return id, {'d', string.sub(member, 43), 't', string.sub(member, 23, 42)}, 'm'
end
"""

_DEQUEUE = (
    _BACK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local member = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if member then
  redis.call('ZREM', KEYS[2], member)
  local id, fields, kind = back_entry(KEYS[1], member)
  if kind == 'p' then
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
  end
  if fields then return {{id, fields}} end
end
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                     'STREAMS', KEYS[1], '>')
if not r then
  -- Left in flight by at-least-once dequeues (the queue's timeout went back to 0): given out
  -- once the timeout they were taken with has passed.
  local took = redis.call('HGET', KEYS[3], ARGV[4])
  if not took or redis.call('XPENDING', KEYS[1], ARGV[1])[1] == 0 then return {} end
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], took, '0-0', 'COUNT', 1)
  local e = claimed[2][1]
  if type(e) ~= 'table' or type(e[2]) ~= 'table' then return {} end
  r = {{KEYS[1], {e}}}
end
local entries = r[1][2]
for _, e in ipairs(entries) do
  redis.call('XACK', KEYS[1], ARGV[1], e[1])
  redis.call('XDEL', KEYS[1], e[1])
end
return entries
"""
)

_DEQUEUE_IN_FLIGHT = (
    _BACK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local member = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if member then
  redis.call('ZREM', KEYS[3], member)
  local id, fields, kind = back_entry(KEYS[1], member)
  if kind == 'p' and fields then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', p[1][4])
    return {id, fields, p[1][4]}
  elseif kind == 'm' then
    redis.call('XADD', KEYS[1], '*', 'd', fields[2], 't', fields[4])
  end
end
redis.call('HSET', KEYS[4], ARGV[4], ARGV[3])
local cursor = redis.call('HGET', KEYS[2], ARGV[4]) or '0-0'
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', 1)
redis.call('HSET', KEYS[2], ARGV[4], claimed[1])
local e = claimed[2][1]
if type(e) == 'table' and type(e[2]) == 'table' then
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
  return {e[1], e[2], p[1][4]}
end
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1,
                     'STREAMS', KEYS[1], '>')
if not r then return {} end
local n = r[1][2][1]
return {n[1], n[2], 1}
"""
)

_PUT_BACK = """
local p = {}
if redis.call('EXISTS', KEYS[1]) == 1 then
  p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
end
if #p > 0 then
  -- Still in flight: reset its idle time so XAUTOCLAIM leaves it to the put-back set.
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'RETRYCOUNT', p[1][4])
  redis.call('ZADD', KEYS[2], 0, ARGV[4] .. 'p')
else
  redis.call('ZADD', KEYS[2], 0, ARGV[4] .. 'm' .. ARGV[5] .. ARGV[6])
end
return 1
"""

_ACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return 0 end
if math.min(p[1][4], tonumber(ARGV[4])) ~= tonumber(ARGV[3]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[5] .. 'p')
return 1
"""

_PEEK = (
    _BACK
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local member = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if member then
  local id, fields = back_entry(KEYS[1], member)
  if fields then return {id, fields} end
end
local last = '0-0'
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  for i = 1, #group, 2 do
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
end
local r = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
return r[1] or {}
"""
)

_SIZE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('XLEN', KEYS[1]) - redis.call('XPENDING', KEYS[1], ARGV[1])[1]
  + redis.call('ZCARD', KEYS[2])
"""

_CLEAR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
"""


def _padded(entry: str) -> str:
    ms, _, seq = entry.partition("-")
    return f"{int(ms):015d}{int(seq):06d}"


def message_id(entry_id: bytes, delivery: int) -> int:
    """The message id of delivery ``delivery`` (1 = first) of the stream entry ``ms-seq``."""
    ms, _, seq = entry_id.partition(b"-")
    return (int(ms) * 10**6 + int(seq)) * 1000 + min(delivery, MAX_DELIVERY_DIGIT + 1) - 1


def entry_of(message: int) -> tuple[str, int]:
    """(stream entry id, delivery number) named by a message id."""
    number, digit = divmod(message, 1000)
    ms, seq = divmod(number, 10**6)
    return f"{ms}-{seq}", digit + 1


def _message(entry_id: bytes, fields: list[bytes], delivery: int) -> Message:
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    return Message(message_id(entry_id, delivery), bytes(values[b"d"]), int(values[b"t"]))


class RedisBackend(QueueBackend):
    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        prefix = options.prefix
        self._queues = f"{prefix}queues"
        self._visibility_key = f"{prefix}visibility"
        self._last = f"{prefix}last"
        self._cursor = f"{prefix}cursor"
        self._lastvis = f"{prefix}lastvis"
        self._stream_prefix = f"{prefix}q:"
        self._back_prefix = f"{prefix}back:"
        # One consumer per server process: XAUTOCLAIM moves entries between consumers.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.redis: Any = None
        self._visibility: dict[str, tuple[float | None, float]] = {}
        self._scripts: dict[str, Any] = {}

    def _stream(self, name: str) -> str:
        return self._stream_prefix + name

    def _back(self, name: str) -> str:
        return self._back_prefix + name

    async def start(self) -> None:
        self.redis = await open_redis(self.options)
        for name, source in (
            ("create", _CREATE),
            ("enqueue", _ENQUEUE),
            ("dequeue", _DEQUEUE),
            ("dequeue_in_flight", _DEQUEUE_IN_FLIGHT),
            ("ack", _ACK),
            ("put_back", _PUT_BACK),
            ("peek", _PEEK),
            ("size", _SIZE),
            ("clear", _CLEAR),
        ):
            self._scripts[name] = self.redis.register_script(source)

    async def close(self) -> None:
        if self.redis is not None:
            await close_redis(self.redis)
            self.redis = None

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        async with engine_call(self.options):
            return await self._scripts[script](keys=keys, args=args)

    async def create_queue(self, name: str) -> None:
        await self._run("create", [self._stream(name), self._queues], [GROUP, name])

    async def remove_queues(self, name: str) -> None:
        self._visibility.clear()
        async with engine_call(self.options):
            names = [n.decode() for n in await self.redis.smembers(self._queues)]
            doomed = [n for n in names if is_below(n, name)]
            if not doomed:
                return
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(self._stream(n) for n in doomed), *(self._back(n) for n in doomed))
                pipe.srem(self._queues, *doomed)
                for key in (self._visibility_key, self._last, self._cursor, self._lastvis):
                    pipe.hdel(key, *doomed)
                await pipe.execute()

    async def queue_names(self) -> list[str]:
        async with engine_call(self.options):
            return [n.decode() for n in await self.redis.smembers(self._queues)]

    async def enqueue(self, name: str, data: bytes) -> Message:
        now = time.time_ns()
        entry = await self._run(
            "enqueue",
            [self._stream(name), self._queues, self._last],
            [GROUP, name, data, now],
        )
        return Message(message_id(entry, 1), data, now)

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        if visibility <= 0:
            entries = await self._run(
                "dequeue",
                [self._stream(name), self._back(name), self._lastvis],
                [GROUP, self.consumer, 1, name],
            )
            return _message(entries[0][0], entries[0][1], 1) if entries else None
        reply = await self._run(
            "dequeue_in_flight",
            [self._stream(name), self._cursor, self._back(name), self._lastvis],
            [GROUP, self.consumer, int(visibility * 1000), name],
        )
        return _message(reply[0], reply[1], int(reply[2])) if reply else None

    async def peek(self, name: str) -> Message | None:
        entry = await self._run("peek", [self._stream(name), self._back(name)], [])
        return _message(entry[0], entry[1], 1) if entry else None

    async def size(self, name: str) -> int:
        return int(await self._run("size", [self._stream(name), self._back(name)], [GROUP]))

    async def clear(self, name: str) -> None:
        await self._run(
            "clear",
            [self._stream(name), self._cursor, self._last, self._back(name)],
            [GROUP, name],
        )

    async def ack(self, name: str, message_id: int) -> bool:
        entry, delivery = entry_of(message_id)
        acked = await self._run(
            "ack",
            [self._stream(name), self._back(name)],
            [GROUP, entry, delivery, MAX_DELIVERY_DIGIT + 1, _padded(entry)],
        )
        return bool(acked)

    async def put_back(self, name: str, message: Message) -> None:
        entry, _ = entry_of(int(message.id))
        await self._run(
            "put_back",
            [self._stream(name), self._back(name)],
            [
                GROUP,
                entry,
                self.consumer,
                _padded(entry),
                f"{message.enqueued_ns:020d}",
                message.data,
            ],
        )

    async def last_enqueue_ns(self, name: str) -> int | None:
        async with engine_call(self.options):
            value = await self.redis.hget(self._last, name)
        return None if value is None else int(value)

    async def get_visibility(self, name: str) -> float | None:
        cached = self._visibility.get(name)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with engine_call(self.options):
            value = await self.redis.hget(self._visibility_key, name)
        seconds = None if value is None else float(value)
        self._visibility[name] = (seconds, now + VISIBILITY_CACHE_SECONDS)
        return seconds

    async def set_visibility(self, name: str, seconds: float) -> None:
        await self.create_queue(name)
        async with engine_call(self.options):
            await self.redis.hset(self._visibility_key, name, repr(float(seconds)))
        self._visibility[name] = (seconds, time.monotonic() + VISIBILITY_CACHE_SECONDS)
