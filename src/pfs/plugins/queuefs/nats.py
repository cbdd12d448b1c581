"""The nats backend: a JetStream work-queue stream per queue, read through one durable pull
consumer (``pfs``) that every server shares, with explicit acks.

* A dequeue asks the consumer for its next message (``no_wait``: an empty queue answers at
  once). In the default mode the message is acked at once, waiting for the server's
  confirmation (a work-queue stream then deletes it): no other server gets it. In
  at-least-once mode (``visibility_timeout`` > 0) the consumer's ``ack_wait`` is the visibility
  timeout, so JetStream redelivers what is not acked in time.
* Acks may reach any server: the ack subject of each delivery is kept in a KV bucket
  (``<prefix>_inflight``) under the queue and stream sequence, with its delivery count. Message
  ids are ``stream sequence * 1000 + delivery - 1`` (deliveries capped at 1000), so an ack names
  one delivery and a late ack of a copy redelivered since is refused (404): JetStream itself
  would take any delivery's ack for the message.
* ``max_deliveries`` > 0: a message fetched for the time after that is published to the
  dead-letter subject ``<prefix>.dead.<queue hash>`` (kept by the stream ``<prefix>_dead``,
  headers ``Pfs-Queue`` and ``Pfs-Seq``) and terminated in its queue.

Streams are named ``<prefix>_<hash of the queue name>`` (stream names cannot hold ``/``); the
description holds the queue name and its own visibility timeout as JSON. ``size`` is the
consumer's count of messages not yet delivered (O(1)).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import orjson

from pfs.engines import EngineOptions, engine_call
from pfs.engines.nats import open_nats
from pfs.fs import TooLarge
from pfs.fs.fileinfo import parse_time_ns
from pfs.plugins.queuefs.backend import Message, QueueBackend, is_below

CONSUMER = "pfs"
#: The consumer's ack wait in the default mode: the ack follows the fetch at once, so this
#: only matters when a server dies between the two (the message is then delivered again).
DESTRUCTIVE_ACK_WAIT = 30.0
VISIBILITY_CACHE_SECONDS = 1.0
#: Most dequeue requests served by one pull request.
MAX_BATCH = 64
#: How long a pull request may go unanswered before it is sent again (seconds).
PULL_WAIT = 1.0
MAX_DELIVERY_DIGIT = 999
#: The in-flight bucket forgets a delivery after the longest visibility timeout (12 hours).
INFLIGHT_TTL = 43200.0

try:
    from nats import errors as _nats_errors
    from nats.js import api as _api
    from nats.js import errors as _js_errors
except ImportError:  # open_nats names the missing extra
    _api = _js_errors = _nats_errors = None  # type: ignore[assignment]


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:24]


def message_id(sequence: int, delivery: int) -> int:
    return sequence * 1000 + min(delivery, MAX_DELIVERY_DIGIT + 1) - 1


class NATSBackend(QueueBackend):
    def __init__(self, options: EngineOptions, config: dict[str, Any]) -> None:
        self.options = options
        self.prefix = options.prefix
        self.max_deliveries = int(config.get("max_deliveries") or 0)
        self.nc: Any = None
        self.js: Any = None
        self.inflight: Any = None
        self._streams: set[str] = set()
        self._ack_wait: dict[str, float] = {}
        self._visibility: dict[str, tuple[float | None, float]] = {}
        #: (queue, visibility) → dequeue requests waiting for the next pull, and its runner.
        self._waiting: dict[tuple[str, float], list[asyncio.Future]] = {}
        self._runners: dict[tuple[str, float], asyncio.Task] = {}
        #: Messages put back after the default mode's ack, served first by this server.
        self._back: dict[str, list[Message]] = {}
        #: Messages this server put back with a NAK and not redelivered yet (for ``size``).
        self._nacked: dict[str, int] = {}

    def _stream(self, name: str) -> str:
        return f"{self.prefix}_{_hash(name)}"

    def _subject(self, name: str) -> str:
        return f"{self.prefix}.q.{_hash(name)}"

    def _call(self) -> Any:
        return engine_call(self.options, lambda: self.nc is not None and self.nc.is_connected)

    async def start(self) -> None:
        self.nc, self.js = await open_nats(self.options)
        async with self._call():
            self.inflight = await self.js.create_key_value(
                bucket=f"{self.prefix}_inflight", history=1, ttl=INFLIGHT_TTL
            )
            if self.max_deliveries:
                await self._ensure(
                    _api.StreamConfig(
                        name=f"{self.prefix}_dead", subjects=[f"{self.prefix}.dead.>"]
                    )
                )

    async def _ensure(self, config: Any) -> None:
        try:
            await self.js.add_stream(config)
        except _js_errors.BadRequestError as exc:
            if exc.err_code != 10058:  # stream name already in use (with another config)
                raise

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()
            self.nc = None

    async def _api(self, subject: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JetStream API request; a missing stream or consumer is ``{}``."""
        reply = await self.nc.request(
            f"$JS.API.{subject}",
            orjson.dumps(payload) if payload is not None else b"",
            timeout=self.options.query_timeout,
        )
        answer: dict[str, Any] = orjson.loads(reply.data)
        error = answer.get("error")
        if error:
            if error.get("code") == 404:
                return {}
            raise _js_errors.APIError.from_error(error)
        return answer

    async def _create(self, name: str, visibility: float | None = None) -> None:
        stream = self._stream(name)
        description = orjson.dumps({"queue": name, "visibility": visibility}).decode()
        await self._ensure(
            _api.StreamConfig(
                name=stream,
                subjects=[self._subject(name)],
                retention=_api.RetentionPolicy.WORK_QUEUE,
                description=description,
            )
        )
        await self._consumer(name, DESTRUCTIVE_ACK_WAIT if not visibility else visibility)
        self._streams.add(stream)

    async def _consumer(self, name: str, ack_wait: float) -> None:
        """Create the queue's consumer, or change its ack wait (visibility timeout)."""
        await self.js.add_consumer(
            self._stream(name),
            _api.ConsumerConfig(
                durable_name=CONSUMER,
                ack_policy=_api.AckPolicy.EXPLICIT,
                ack_wait=ack_wait,
                max_deliver=-1,
                max_ack_pending=-1,
            ),
        )
        self._ack_wait[name] = ack_wait

    async def create_queue(self, name: str) -> None:
        async with self._call():
            if await self._api(f"STREAM.INFO.{self._stream(name)}") == {}:
                await self._create(name)

    async def _queues(self) -> dict[str, tuple[str, float | None]]:
        """stream → (queue name, own visibility) of every queue of this prefix."""
        found: dict[str, tuple[str, float | None]] = {}
        offset = 0
        while True:
            page = await self._api("STREAM.LIST", {"offset": offset})
            streams = page.get("streams") or []
            for info in streams:
                config = info["config"]
                if not config["name"].startswith(self.prefix + "_") or "description" not in config:
                    continue
                try:
                    described = orjson.loads(config["description"])
                    found[config["name"]] = (described["queue"], described.get("visibility"))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue  # a stream of ours that holds no queue (dead letters, buckets)
            offset += len(streams)
            if not streams or offset >= page.get("total", 0):
                return found

    async def remove_queues(self, name: str) -> None:
        self._visibility.clear()
        async with self._call():
            for stream, (queue, _) in (await self._queues()).items():
                if is_below(queue, name):
                    await self._api(f"STREAM.DELETE.{stream}")
                    self._streams.discard(stream)
                    self._ack_wait.pop(queue, None)
                    await self._forget_inflight(queue)

    async def _forget_inflight(self, queue: str) -> None:
        await self._api(
            f"STREAM.PURGE.KV_{self.prefix}_inflight",
            {"filter": f"$KV.{self.prefix}_inflight.{_hash(queue)}.>"},
        )

    async def queue_names(self) -> list[str]:
        async with self._call():
            return [queue for queue, _ in (await self._queues()).values()]

    async def enqueue(self, name: str, data: bytes) -> Message:
        now = time.time_ns()
        limit = self.nc.max_payload if self.nc is not None else 0
        if limit and len(data) > limit:
            raise TooLarge(
                f"message too large: {len(data)} bytes (the nats server at "
                f"{self.options.address} takes at most {limit} bytes: its max_payload)"
            )
        async with self._call():
            if self._stream(name) not in self._streams:
                await self.create_queue(name)
            try:
                ack = await self.js.publish(self._subject(name), data)
            except _nats_errors.NoRespondersError:
                # Removed through another server since: make it again.
                await self._create(name)
                ack = await self.js.publish(self._subject(name), data)
        return Message(message_id(ack.seq, 1), data, now)

    async def _pull(self, name: str, count: int) -> list[Any]:
        """Up to ``count`` messages from the queue's consumer (new ones, or ones whose ack wait
        ran out); fewer when the queue has fewer."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream(name)}.{CONSUMER}"
        request = orjson.dumps({"batch": count, "no_wait": True})
        msgs: list[Any] = []
        try:
            await self.nc.publish(subject, request, reply=inbox)
            while len(msgs) < count:
                try:
                    msg = await sub.next_msg(timeout=PULL_WAIT)
                except TimeoutError:
                    if msgs:
                        break
                    # The server let the request go unanswered (seen on nats-server 2.9 with
                    # many pulls at once): ask again. A message it sends the old inbox later is
                    # delivered again once its ack wait ends.
                    await self.nc.publish(subject, request, reply=inbox)
                    continue
                status = (msg.headers or {}).get("Status")
                if status is None:
                    msgs.append(msg)
                elif status in ("404", "408", "409"):
                    break  # no (more) messages, or the consumer/stream is gone
                else:
                    raise _js_errors.APIError(
                        code=int(status), description=msg.headers.get("Description")
                    )
        finally:
            await sub.unsubscribe()
        return msgs

    async def dequeue(self, name: str, visibility: float) -> Message | None:
        back = self._back.get(name)
        if back and visibility <= 0:
            message = back.pop(0)
            if not back:
                del self._back[name]
            return message
        # Dequeues of one queue arriving together share one pull request (one at a time per
        # queue on this server): JetStream hands out each message once either way.
        key = (name, visibility)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if key not in self._runners:
            self._runners[key] = loop.create_task(self._serve(key))
        return await future

    async def _serve(self, key: tuple[str, float]) -> None:
        while True:
            waiting = [f for f in self._waiting.get(key, ()) if not f.done()]
            batch, rest = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
            self._waiting[key] = rest
            if not batch:
                # No await between this check and leaving: a dequeue arriving later starts a
                # new runner.
                self._waiting.pop(key, None)
                self._runners.pop(key, None)
                return
            try:
                messages = await self._take(key[0], key[1], len(batch))
            except Exception as exc:  # every request of this batch fails the same way
                messages = []
                for future in batch:
                    if not future.done():
                        future.set_exception(exc)
            for index, future in enumerate(batch):
                if not future.done():
                    future.set_result(messages[index] if index < len(messages) else None)

    async def _take(self, name: str, visibility: float, count: int) -> list[Message]:
        async with self._call():
            if self._stream(name) not in self._streams:
                if await self._api(f"STREAM.INFO.{self._stream(name)}") == {}:
                    return []
                self._streams.add(self._stream(name))
            # The default mode acks at once and keeps the consumer's ack wait as it is: what a
            # former visibility timeout left in flight comes back after the wait it was taken
            # with.
            if visibility > 0 and self._ack_wait.get(name) != visibility:
                await self._consumer(name, visibility)
            taken: list[Message] = []
            while len(taken) < count:
                msgs = await self._pull(name, count - len(taken))
                if not msgs:
                    break
                kept = await asyncio.gather(*(self._deliver(name, visibility, m) for m in msgs))
                taken += [message for message in kept if message is not None]
            return taken

    async def _deliver(self, name: str, visibility: float, msg: Any) -> Message | None:
        """Ack (default mode) or record (at-least-once) one pulled message; None when it went
        to the dead letters instead."""
        meta = msg.metadata
        delivery = meta.num_delivered
        if self.max_deliveries and delivery > self.max_deliveries:
            await self._dead_letter(name, msg)
            return None
        sequence = meta.sequence.stream
        enqueued = int(msg.reply.split(".")[-2])
        if delivery > 1 and self._nacked.get(name):
            self._nacked[name] -= 1
        if visibility <= 0:
            await self.nc.request(msg.reply, b"+ACK", timeout=self.options.query_timeout)
        else:
            await self.inflight.put(
                f"{_hash(name)}.{sequence}", f"{delivery} {msg.reply}".encode()
            )
        return Message(message_id(sequence, delivery), bytes(msg.data), enqueued)

    async def _dead_letter(self, name: str, msg: Any) -> None:
        await self.js.publish(
            f"{self.prefix}.dead.{_hash(name)}",
            msg.data,
            headers={"Pfs-Queue": name, "Pfs-Seq": str(msg.metadata.sequence.stream)},
        )
        await self.nc.request(msg.reply, b"+TERM", timeout=self.options.query_timeout)

    async def ack(self, name: str, message_id: int) -> bool:
        sequence, digit = divmod(message_id, 1000)
        key = f"{_hash(name)}.{sequence}"
        async with self._call():
            try:
                entry = await self.inflight.get(key)
            except (_js_errors.KeyNotFoundError, _js_errors.KeyDeletedError):
                return False
            delivery, _, reply = (entry.value or b"").decode().partition(" ")
            if not reply or min(int(delivery), MAX_DELIVERY_DIGIT + 1) != digit + 1:
                return False  # another delivery of it is in flight now: not this one's to ack
            try:
                await self.inflight.delete(key, last=entry.revision)
            except _js_errors.KeyWrongLastSequenceError:
                return False  # redelivered (or acked) meanwhile
            await self.nc.request(reply, b"+ACK", timeout=self.options.query_timeout)
            return True

    async def put_back(self, name: str, message: Message) -> None:
        sequence, _ = divmod(int(message.id), 1000)
        key = f"{_hash(name)}.{sequence}"
        async with self._call():
            try:
                entry = await self.inflight.get(key)
            except (_js_errors.KeyNotFoundError, _js_errors.KeyDeletedError):
                entry = None
            if entry is not None:
                # In flight: a NAK makes JetStream deliver it again at once, before new ones.
                reply = (entry.value or b"").decode().partition(" ")[2]
                await self.inflight.delete(key)
                await self.nc.request(reply, b"-NAK", timeout=self.options.query_timeout)
                # JetStream's counts show a NAKed message as neither ready nor in flight.
                self._nacked[name] = self._nacked.get(name, 0) + 1
                return
        # Acked already (the default mode): JetStream cannot take it back in its place, so it
        # waits on this server for the next dequeue or peek (lost if the server dies first).
        back = self._back.setdefault(name, [])
        back.append(message)
        back.sort(key=lambda m: int(m.id))

    async def peek(self, name: str) -> Message | None:
        if self._back.get(name):
            return self._back[name][0]
        async with self._call():
            info = await self._api(f"CONSUMER.INFO.{self._stream(name)}.{CONSUMER}")
            if not info:
                return None
            after = info["delivered"]["stream_seq"]
            found = await self._api(
                f"STREAM.MSG.GET.{self._stream(name)}",
                {"seq": after + 1, "next_by_subj": self._subject(name)},
            )
        if not found:
            return None
        raw = found["message"]
        data = base64.b64decode(raw.get("data") or "")
        return Message(message_id(raw["seq"], 1), data, parse_time_ns(raw["time"]))

    async def size(self, name: str) -> int:
        async with self._call():
            info = await self._api(f"CONSUMER.INFO.{self._stream(name)}.{CONSUMER}")
        back = len(self._back.get(name, ())) + self._nacked.get(name, 0)
        return int(info.get("num_pending", 0)) + back

    async def clear(self, name: str) -> None:
        self._back.pop(name, None)
        self._nacked.pop(name, None)
        async with self._call():
            if await self._api(f"STREAM.PURGE.{self._stream(name)}") != {}:
                await self._forget_inflight(name)

    async def last_enqueue_ns(self, name: str) -> int | None:
        async with self._call():
            info = await self._api(f"STREAM.INFO.{self._stream(name)}")
        if not info or not info["state"].get("last_seq"):
            return None
        return parse_time_ns(info["state"].get("last_ts", "")) or None

    async def get_visibility(self, name: str) -> float | None:
        cached = self._visibility.get(name)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._call():
            info = await self._api(f"STREAM.INFO.{self._stream(name)}")
        seconds = None
        if info:
            seconds = orjson.loads(info["config"].get("description") or "{}").get("visibility")
        self._visibility[name] = (seconds, now + VISIBILITY_CACHE_SECONDS)
        return seconds

    async def set_visibility(self, name: str, seconds: float) -> None:
        async with self._call():
            if await self._api(f"STREAM.INFO.{self._stream(name)}") == {}:
                await self._create(name, seconds)
            else:
                description = orjson.dumps({"queue": name, "visibility": seconds}).decode()
                await self.js.update_stream(
                    _api.StreamConfig(
                        name=self._stream(name),
                        subjects=[self._subject(name)],
                        retention=_api.RetentionPolicy.WORK_QUEUE,
                        description=description,
                    )
                )
        self._visibility[name] = (seconds, time.monotonic() + VISIBILITY_CACHE_SECONDS)


