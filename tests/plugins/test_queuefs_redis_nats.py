"""queuefs on redis and nats as one service of several servers: 3 servers x (4 consumers + 4
producers) move 20,000 messages with none lost or duplicated; at-least-once with one server
killed (-9) mid-run acks every message once; the engine going away behind a TCP relay answers
503 naming the address, a frozen one 504 within query_timeout, and nothing is lost after."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import orjson
import pytest

from pfs.http import client as http1
from pfs.testing.engines import ENGINES
from pfs.testing.mariadb import TcpRelay
from pfs.testing.server import ServerProcess
from tests.helpers.load import connection, files_target, request
from tests.helpers.queuefs import (
    dequeue,
    enqueue,
    queuefs_config,
    read,
    scratch_database,
    server_config,
    size,
)

ENGINE_NAMES = ("redis", "nats")
MESSAGES = 20_000


async def produce(urls: list[str], queue: str, count: int, per_server: int) -> dict[str, bytes]:
    """Enqueue ``count`` distinct messages through ``per_server`` producers on each url."""
    sent: dict[str, bytes] = {}
    numbers = iter(range(count))
    target = files_target(f"/queuefs/{queue}/enqueue")

    async def worker(url: str) -> None:
        async with connection(url) as conn:
            for n in numbers:
                body = f"msg-{n}".encode()
                status, answer = await request(conn, "PUT", target, body)
                assert status == 200, answer
                sent[orjson.loads(answer)["message"]] = body

    await asyncio.gather(*(worker(url) for url in urls for _ in range(per_server)))
    return sent


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_three_servers_move_20000_messages_exactly_once(engine, tmp_path, start_server):
    with scratch_database(engine, "scale") as prefix:
        config = server_config(queuefs_config(engine, tmp_path, prefix))
        urls = [start_server(config).api for _ in range(3)]
        got: list[tuple[str, bytes]] = []
        target = files_target("/queuefs/shared/dequeue")

        async def consumer(url: str, stop: asyncio.Event) -> None:
            async with connection(url) as conn:
                while True:
                    status, answer = await request(conn, "GET", target)
                    assert status == 200, answer
                    message = orjson.loads(answer)
                    if message:
                        got.append((message["id"], message["data"].encode()))
                    elif stop.is_set():
                        return
                    else:
                        await asyncio.sleep(0.01)

        async def run() -> dict[str, bytes]:
            stop = asyncio.Event()
            consumers = [asyncio.create_task(consumer(u, stop)) for u in urls for _ in range(4)]
            started = time.monotonic()
            sent = await produce(urls, "shared", MESSAGES, 4)
            stop.set()
            await asyncio.gather(*consumers)
            print(f"\n{engine}: {MESSAGES} messages through 3 servers in "
                  f"{time.monotonic() - started:.1f} s")
            return sent

        sent = asyncio.run(run())
        ids = [message_id for message_id, _ in got]
        duplicated = len(ids) - len(set(ids))
        lost = len(set(sent) - set(ids))
        assert (len(sent), duplicated, lost) == (MESSAGES, 0, 0)
        assert dict(got) == sent
        with httpx.Client(base_url=urls[0]) as client:
            assert size(client, "shared") == 0


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_kill_9_of_one_server_in_at_least_once_mode_acks_every_message_once(
    engine, tmp_path, start_server
):
    count = 3000
    with scratch_database(engine, "kill") as prefix:
        config = server_config(queuefs_config(engine, tmp_path, prefix, visibility_timeout=2))
        victim = ServerProcess(config)
        survivors = [start_server(config) for _ in range(2)]
        urls = [victim.api, *(s.api for s in survivors)]
        acked: list[bytes] = []
        uncertain: list[bytes] = []  # the ack's answer was lost with the killed server
        redelivered: list[str] = []

        async def consumer(url: str, stop: asyncio.Event) -> None:
            target = files_target("/queuefs/jobs/dequeue")
            ack = files_target("/queuefs/jobs/ack")
            async with connection(url) as conn:
                while True:
                    try:
                        status, answer = await request(conn, "GET", target)
                    except http1.HTTPError:
                        return  # this consumer's server was killed
                    assert status == 200, answer
                    message = orjson.loads(answer)
                    if not message:
                        if stop.is_set():
                            return
                        await asyncio.sleep(0.05)
                        continue
                    if int(message["id"]) % 1000:
                        redelivered.append(message["id"])
                    await asyncio.sleep(0.01)  # the work: the killed server's consumers die
                    try:
                        status, answer = await request(conn, "PUT", ack, message["id"].encode())
                    except http1.HTTPError:
                        uncertain.append(message["data"].encode())
                        return
                    if status == 200:
                        acked.append(message["data"].encode())
                    else:  # a late ack of a copy redelivered meanwhile: the new copy counts
                        assert status == 404, answer

        async def run() -> dict[str, bytes]:
            stop = asyncio.Event()
            consumers = [asyncio.create_task(consumer(u, stop)) for u in urls for _ in range(4)]
            sent = await produce([s.api for s in survivors], "jobs", count, 2)
            while len(acked) < count // 3:
                await asyncio.sleep(0.01)
            victim.stop(signal.SIGKILL)
            deadline = time.monotonic() + 120
            while len(set(acked) | set(uncertain)) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            # An unanswered ack may not have been applied: its message comes back after the
            # visibility timeout and is acked by a survivor.
            await asyncio.sleep(2 * 2.5)
            stop.set()
            await asyncio.gather(*consumers)
            return sent

        try:
            sent = asyncio.run(run())
        finally:
            victim.close()
        print(f"\n{engine}: {len(acked)} acked, {len(redelivered)} redeliveries, "
              f"{len(uncertain)} acks unanswered (server killed)")
        assert len(acked) == len(set(acked)), "a message was acked twice"
        assert set(acked) | set(uncertain) == set(sent.values())
        assert len(uncertain) <= 4
        with httpx.Client(base_url=survivors[0].api) as client:
            assert size(client, "jobs") == 0 and dequeue(client, "jobs") == {}


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_engine_away_is_503_frozen_is_504_and_nothing_is_lost(engine, tmp_path, start_server):
    server = ENGINES[engine]
    relay = TcpRelay(server.host, server.port)
    try:
        with scratch_database(engine, "outage") as prefix:
            config = queuefs_config(engine, tmp_path, prefix, query_timeout=2, connect_timeout=2)
            config["url"] = f"{engine}://127.0.0.1:{relay.port}"
            proc = start_server(server_config(config))
            address = f"127.0.0.1:{relay.port}"
            with httpx.Client(base_url=proc.api, timeout=30) as client:
                ids = [enqueue(client, "jobs", f"m{i}".encode()) for i in range(10)]
                relay.cut()
                for call in (
                    lambda: client.put("/files", params={"path": "/queuefs/jobs/enqueue"},
                                       content=b"lost?"),
                    lambda: read(client, "/queuefs/jobs/dequeue"),
                    lambda: read(client, "/queuefs/jobs/size"),
                ):
                    r = call()
                    assert r.status_code == 503 and address in r.json()["error"], r.text
                relay.restore()
                deadline = time.monotonic() + 30
                while read(client, "/queuefs/jobs/size").status_code != 200:
                    assert time.monotonic() < deadline, "the server did not reconnect"
                    time.sleep(0.1)
                relay.freeze()
                r = read(client, "/queuefs/jobs/size")
                assert r.status_code in (503, 504) and address in r.json()["error"], r.text
                relay.thaw()
                deadline = time.monotonic() + 30
                while read(client, "/queuefs/jobs/size").status_code != 200:
                    assert time.monotonic() < deadline, "the server did not recover"
                    time.sleep(0.1)
                got = [dequeue(client, "jobs") for _ in range(10)]
                assert [m["id"] for m in got] == ids
                assert dequeue(client, "jobs") == {}
    finally:
        relay.close()


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_engine_down_at_start_names_host_and_port(engine, tmp_path):
    from pfs.testing.server import free_port

    port = free_port()
    config = {"backend": engine, "url": f"{engine}://127.0.0.1:{port}", "connect_timeout": 2}
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(server_config(config)).close()
    assert f"127.0.0.1:{port}" in str(failed.value)


def test_nats_max_deliveries_moves_a_message_to_the_dead_letters(tmp_path, start_server):
    import nats

    async def dead_letters(prefix: str) -> list[tuple[bytes, str]]:
        nc = await nats.connect(ENGINES["nats"].url)
        try:
            js = nc.jetstream()
            found = []
            info = await js.stream_info(f"{prefix}_dead")
            for seq in range(1, info.state.last_seq + 1):
                msg = await js.get_msg(f"{prefix}_dead", seq)
                found.append((msg.data, msg.headers["Pfs-Queue"]))
            return sorted(found)
        finally:
            await nc.close()

    with scratch_database("nats", "dead") as prefix:
        config = queuefs_config("nats", tmp_path, prefix, visibility_timeout=1, max_deliveries=2)
        proc = start_server(server_config(config))
        with httpx.Client(base_url=proc.api, timeout=30) as client:
            enqueue(client, "jobs", b"poison")
            enqueue(client, "jobs", b"fine")
            assert [dequeue(client, "jobs")["data"] for _ in range(2)] == ["poison", "fine"]
            deliveries = {"poison": 1, "fine": 1}
            deadline = time.monotonic() + 60
            # Never acked: each comes back once more (its 2nd delivery), then its 3rd goes to
            # the dead letters instead of a consumer.
            while asyncio.run(dead_letters(prefix)) != [(b"fine", "jobs"), (b"poison", "jobs")]:
                assert time.monotonic() < deadline, f"not dead-lettered: {deliveries}"
                message = dequeue(client, "jobs")
                if message:
                    deliveries[message["data"]] += 1
                    assert int(message["id"]) % 1000 == 1  # a second delivery, never a third
                time.sleep(0.1)
            assert deliveries == {"poison": 2, "fine": 2}
            assert dequeue(client, "jobs") == {} and size(client, "jobs") == 0


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_in_flight_messages_come_back_after_the_queue_turns_destructive(
    engine, tmp_path, start_server
):
    with scratch_database(engine, "switch") as prefix:
        proc = start_server(server_config(queuefs_config(engine, tmp_path, prefix)))
        with httpx.Client(base_url=proc.api, timeout=30) as client:
            path = {"path": "/queuefs/jobs/visibility_timeout"}
            assert client.put("/files", params=path, content=b"1").status_code == 200
            enqueue(client, "jobs", b"taken")
            enqueue(client, "jobs", b"waiting")
            assert dequeue(client, "jobs")["data"] == "taken"  # in flight, never acked
            assert client.put("/files", params=path, content=b"0").status_code == 200
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 2:
                assert time.monotonic() < deadline, f"only {got} came out"
                message = dequeue(client, "jobs")
                if message:
                    got.append(message["data"])
                time.sleep(0.1)
            assert got == ["waiting", "taken"]
            time.sleep(1.5)
            assert dequeue(client, "jobs") == {}
