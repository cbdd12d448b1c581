"""queuefs on PostgreSQL as several servers share it: 3 servers × 4 consumers and 4 producers
moving 20,000 messages exactly once; ``kill -9`` of one server in at-least-once mode (every
message acked exactly once, redeliveries counted); the database going away and hanging through
a TCP relay (never the real service): 503/504 within the timeout, recovery, nothing lost; and
LISTEN/NOTIFY waking a consumer of one server when another enqueues."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import httpx
import orjson

from pfs.http import client as http1
from pfs.plugins.queuefs.postgres import PostgresBackend
from pfs.sql.postgres import postgres_options
from pfs.testing.mariadb import TcpRelay
from pfs.testing.postgres import Postgres
from tests.helpers.load import connection, files_target, request
from tests.helpers.queuefs import (
    POSTGRES,
    dequeue,
    enqueue,
    read,
    scratch_database,
    server_config,
)

MESSAGES = 20_000
PRODUCERS = 4
CONSUMERS_PER_SERVER = 4


class Tally:
    """What producers and consumers saw: id → body of each enqueue answered 200, every delivery,
    and each ack answered 200 (an ack whose answer was lost is ``ack_unknown``)."""

    def __init__(self) -> None:
        self.sent: dict[str, bytes] = {}
        self.deliveries: list[tuple[str, bytes]] = []
        self.acked: Counter[str] = Counter()
        self.ack_unknown: set[str] = set()
        self.late_acks = 0


async def produce(urls: list[str], tally: Tally, count: int) -> None:
    """PRODUCERS tasks enqueue ``count`` messages, moving to the next server when one dies."""
    numbers = iter(range(count))
    target = files_target("/queuefs/jobs/enqueue")

    async def worker(first: int) -> None:
        alive = urls[first:] + urls[:first]
        while alive:
            try:
                async with connection(alive[0]) as conn:
                    for n in numbers:
                        body = f"msg-{n}".encode()
                        status, answer = await request(conn, "PUT", target, body)
                        assert status == 200, answer
                        tally.sent[orjson.loads(answer)["message"]] = body
                    return
            except http1.HTTPError:
                alive.pop(0)  # that server is gone; whether its last enqueue was kept is unknown

    await asyncio.gather(*(worker(i % len(urls)) for i in range(PRODUCERS)))


async def consume(url: str, tally: Tally, stop: asyncio.Event, ack: bool) -> None:
    """Dequeue (and ack) until ``stop``; a dead server ends the consumer."""
    dequeue_target = files_target("/queuefs/jobs/dequeue")
    ack_target = files_target("/queuefs/jobs/ack")
    try:
        async with connection(url) as conn:
            while not stop.is_set():
                status, answer = await request(conn, "GET", dequeue_target)
                assert status == 200, answer
                message = orjson.loads(answer)
                if not message:
                    await asyncio.sleep(0.02)
                    continue
                tally.deliveries.append((message["id"], message["data"].encode()))
                if not ack:
                    continue
                try:
                    status, answer = await request(conn, "PUT", ack_target, message["id"].encode())
                except http1.HTTPError:
                    tally.ack_unknown.add(message["id"])
                    raise
                if status == 200:
                    tally.acked[message["id"]] += 1
                else:  # redelivered meanwhile and acked through the other copy
                    assert status == 404, answer
                    tally.late_acks += 1
    except http1.HTTPError:
        return


def _servers(start_server, database: str, **extra) -> list:
    config = server_config(POSTGRES.config(database, **extra))
    return [start_server(config) for _ in range(3)]


def test_three_servers_move_20000_messages_exactly_once(start_server):
    with scratch_database("postgres", "pfs_queuefs_three") as database:
        servers = _servers(start_server, database)
        urls = [s.api for s in servers]
        tally = Tally()

        async def run() -> None:
            stop = asyncio.Event()
            consumers = [asyncio.create_task(consume(u, tally, stop, ack=False))
                         for u in urls for _ in range(CONSUMERS_PER_SERVER)]
            await produce(urls, tally, MESSAGES)
            while len(tally.deliveries) < len(tally.sent):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # a duplicate would show up now
            stop.set()
            await asyncio.gather(*consumers)

        asyncio.run(asyncio.wait_for(run(), 300))
        ids = [message_id for message_id, _ in tally.deliveries]
        assert len(tally.sent) == MESSAGES
        duplicated, lost = len(ids) - len(set(ids)), set(tally.sent) - set(ids)
        assert (duplicated, len(lost)) == (0, 0), f"{duplicated} duplicated, {len(lost)} lost"
        assert dict(tally.deliveries) == tally.sent
        with httpx.Client(base_url=urls[0]) as client:
            assert read(client, "/queuefs/jobs/size").text == "0"


def test_kill_9_of_one_server_at_least_once_acks_every_message_once(start_server):
    with scratch_database("postgres", "pfs_queuefs_kill") as database:
        servers = _servers(start_server, database, visibility_timeout=3)
        urls = [s.api for s in servers]
        tally = Tally()

        async def run() -> None:
            stop = asyncio.Event()
            consumers = [asyncio.create_task(consume(u, tally, stop, ack=True))
                         for u in urls for _ in range(CONSUMERS_PER_SERVER)]
            producing = asyncio.create_task(produce(urls, tally, MESSAGES))
            while sum(tally.acked.values()) < MESSAGES // 4:
                await asyncio.sleep(0.01)
            servers[0].stop(signal.SIGKILL)
            await producing
            deadline = time.monotonic() + 120
            while set(tally.sent) - set(tally.acked) - tally.ack_unknown:
                assert time.monotonic() < deadline, "messages never acked after the kill"
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*consumers)

        asyncio.run(asyncio.wait_for(run(), 300))
        twice = {i: n for i, n in tally.acked.items() if n > 1}
        never = set(tally.sent) - set(tally.acked) - tally.ack_unknown
        assert not twice and not never, f"{len(twice)} acked twice, {len(never)} never acked"
        delivered = Counter(message_id for message_id, _ in tally.deliveries)
        redeliveries = sum(delivered.values()) - len(delivered)
        print(f"\nkill -9 mid-run: {len(tally.sent)} enqueued (200), "
              f"{sum(tally.acked.values())} acked once, {redeliveries} redeliveries, "
              f"{tally.late_acks} late acks refused, {len(tally.ack_unknown)} acks cut by the kill")


def test_database_cut_and_frozen_mid_load_503_504_then_recovers(start_server):
    relay = TcpRelay(POSTGRES.host, POSTGRES.port)
    try:
        with scratch_database("postgres", "pfs_queuefs_outage") as database:
            db = Postgres(host="127.0.0.1", port=relay.port, user=POSTGRES.user,
                          password=POSTGRES.password)
            config = db.config(database, visibility_timeout=2, query_timeout=2,
                               connect_timeout=2)
            proc = start_server(server_config(config))
            address = f"127.0.0.1:{relay.port}"
            tally = Tally()
            failures: Counter[int] = Counter()

            async def load(stop: asyncio.Event) -> None:
                """Producers that retry each message until it is answered 200."""
                async def producer(worker: int) -> None:
                    async with connection(proc.api) as conn:
                        n = 0
                        while not stop.is_set():
                            body = f"w{worker}-{n}".encode()
                            t0 = time.monotonic()
                            status, answer = await request(
                                conn, "PUT", files_target("/queuefs/jobs/enqueue"), body)
                            assert time.monotonic() - t0 < 2 * 3 + 2, "a request hung"
                            if status == 200:
                                tally.sent[orjson.loads(answer)["message"]] = body
                                n += 1
                            else:
                                assert status in (503, 504), answer
                                assert address in orjson.loads(answer)["error"]
                                failures[status] += 1
                                await asyncio.sleep(0.05)

                await asyncio.gather(*(producer(w) for w in range(4)))

            async def run() -> None:
                stop = asyncio.Event()
                producing = asyncio.create_task(load(stop))
                while len(tally.sent) < 300:
                    await asyncio.sleep(0.01)
                relay.cut()
                await asyncio.sleep(2)
                relay.restore()
                before = len(tally.sent)
                while len(tally.sent) < before + 300:
                    await asyncio.sleep(0.05)
                relay.freeze()
                await asyncio.sleep(3)
                relay.thaw()
                before = len(tally.sent)
                while len(tally.sent) < before + 300:
                    await asyncio.sleep(0.05)
                stop.set()
                await producing

            asyncio.run(asyncio.wait_for(run(), 120))
            assert failures[503] > 0, failures  # the cut was seen as the database down

            # Every enqueue answered 200 is there once: drain in at-least-once mode.
            with httpx.Client(base_url=proc.api, timeout=30) as client:
                got: dict[str, str] = {}
                deadline = time.monotonic() + 30
                while set(tally.sent) - set(got):
                    assert time.monotonic() < deadline, "enqueued messages missing"
                    message = dequeue(client, "jobs")
                    if not message:
                        time.sleep(0.2)  # messages in flight when the database went away
                        continue
                    got[message["id"]] = message["data"]
                    r = client.put("/files", params={"path": "/queuefs/jobs/ack"},
                                   content=message["id"].encode())
                    assert r.status_code == 200, r.text
            assert all(got[i] == body.decode() for i, body in tally.sent.items())
            # Directly, without load: cut is a 503 naming the relay, frozen a 504 in time.
            with httpx.Client(base_url=proc.api, timeout=30) as client:
                relay.cut()
                r = client.put("/files", params={"path": "/queuefs/jobs/enqueue"}, content=b"x")
                assert r.status_code == 503 and address in r.json()["error"]
                relay.restore()
                relay.freeze()
                t0 = time.monotonic()
                r = read(client, "/queuefs/jobs/size")
                assert r.status_code in (503, 504) and address in r.json()["error"], r.text
                assert time.monotonic() - t0 < 2 + 3
                relay.thaw()
                deadline = time.monotonic() + 20
                while read(client, "/queuefs/jobs/size").status_code != 200:
                    assert time.monotonic() < deadline, "no recovery after the thaw"
                    time.sleep(0.1)
                assert enqueue(client, "jobs", b"after").isdigit()
    finally:
        relay.close()


def test_an_enqueue_on_one_server_wakes_a_consumer_waiting_on_another():
    """LISTEN/NOTIFY: ``wait_ready`` (what a blocking dequeue waits on) returns when another
    server's backend commits a message, not when its timeout passes."""
    with scratch_database("postgres", "pfs_queuefs_wake") as database:
        options = postgres_options(POSTGRES.config(database), "queuedb")

        async def run() -> bytes:
            waiter, producer = PostgresBackend(options), PostgresBackend(options)
            await waiter.start()
            await producer.start()
            try:
                await waiter.create_queue("jobs")
                waiting = asyncio.create_task(waiter.wait_ready("jobs", 3600))
                await asyncio.sleep(0)  # the waiter is registered
                await producer.enqueue("jobs", b"wake up")
                await asyncio.wait_for(waiting, 60)  # far below the hour it would otherwise wait
                message = await waiter.dequeue("jobs", 0)
                assert message is not None
                return message.data
            finally:
                await waiter.close()
                await producer.close()

        assert asyncio.run(run()) == b"wake up"
