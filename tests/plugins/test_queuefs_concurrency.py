"""queuefs under concurrency and failure: many consumers, two servers on one MariaDB queue,
kill -9 during production on SQLite, MariaDB unreachable at start-up and mid-operation."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import orjson
import pytest

from pfs.http import client as http1
from pfs.testing.mariadb import MariaDB, TcpRelay
from pfs.testing.server import ServerProcess, free_port
from tests.helpers.load import connection, files_target, request
from tests.helpers.queuefs import (
    BACKENDS,
    MARIADB,
    dequeue,
    enqueue,
    queuefs_config,
    read,
    require_mariadb,
    scratch_database,
    server_config,
    size,
)


async def produce(urls: list[str], queue: str, count: int, concurrency: int) -> dict[str, bytes]:
    """Enqueue ``count`` distinct messages through ``urls`` (round robin); id → body."""
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

    await asyncio.gather(*(worker(urls[i % len(urls)]) for i in range(concurrency)))
    return sent


async def consume(urls: list[str], queue: str, per_server: int,
                  stop: asyncio.Event | None = None) -> list[tuple[str, bytes]]:
    """``per_server`` consumers on each url dequeue until the queue is empty (and ``stop``)."""
    got: list[tuple[str, bytes]] = []
    target = files_target(f"/queuefs/{queue}/dequeue")

    async def worker(url: str) -> None:
        async with connection(url) as conn:
            while True:
                status, answer = await request(conn, "GET", target)
                assert status == 200, answer
                message = orjson.loads(answer)
                if message:
                    got.append((message["id"], message["data"].encode()))
                elif stop is None or stop.is_set():
                    return
                else:
                    await asyncio.sleep(0.01)

    await asyncio.gather(*(worker(u) for u in urls for _ in range(per_server)))
    return got


def assert_exactly_once(sent: dict[str, bytes], got: list[tuple[str, bytes]]) -> None:
    ids = [message_id for message_id, _ in got]
    duplicated = len(ids) - len(set(ids))
    lost = set(sent) - set(ids)
    assert (duplicated, len(lost)) == (0, 0), f"{duplicated} duplicated, {len(lost)} lost"
    assert dict(got) == sent


@pytest.fixture(params=BACKENDS)
def queue_config(request, tmp_path):
    backend = request.param
    with scratch_database(backend, "pfs_queuefs_conc") as database:
        yield queuefs_config(backend, tmp_path, database)


def test_64_dequeuers_get_each_of_5000_messages_once(queue_config, start_server):
    proc = start_server(server_config(queue_config))
    sent = asyncio.run(produce([proc.api], "load", 5000, 32))
    assert len(sent) == 5000
    got = asyncio.run(consume([proc.api], "load", 64))
    assert_exactly_once(sent, got)
    with httpx.Client(base_url=proc.api) as client:
        assert size(client, "load") == 0


def test_two_servers_share_one_mariadb_queue(tmp_path, start_server):
    require_mariadb()
    with MARIADB.scratch_database("pfs_queuefs_two") as database:
        config = server_config(queuefs_config("mysql", tmp_path, database))
        servers = [start_server(config), start_server(config)]
        urls = [s.api for s in servers]

        async def run() -> tuple[dict[str, bytes], list[tuple[str, bytes]]]:
            stop = asyncio.Event()
            consumers = asyncio.create_task(consume(urls, "shared", 4, stop))
            sent = await produce(urls, "shared", 10_000, 16)
            stop.set()
            return sent, await consumers

        sent, got = asyncio.run(run())
        assert len(sent) == 10_000
        assert_exactly_once(sent, got)
        ids = sorted(int(i) for i in sent)
        assert len(set(ids)) == 10_000


def test_sqlite_kill_9_keeps_every_acknowledged_enqueue(tmp_path):
    config = server_config(queuefs_config("sqlite", tmp_path, None))
    acked: dict[str, bytes] = {}
    proc = ServerProcess(config)
    target = files_target("/queuefs/crash/enqueue")

    async def producer(worker: int) -> None:
        async with connection(proc.api) as conn:
            try:
                for n in range(10**9):
                    body = f"w{worker}-{n}".encode()
                    status, answer = await request(conn, "PUT", target, body)
                    if status == 200:
                        acked[orjson.loads(answer)["message"]] = body
            except http1.HTTPError:
                return  # the server died under us: this enqueue never got its 200

    async def produce_then_kill() -> None:
        producers = [asyncio.create_task(producer(w)) for w in range(8)]
        while len(acked) < 1500:
            await asyncio.sleep(0.01)
        proc.stop(signal.SIGKILL)
        await asyncio.gather(*producers)

    asyncio.run(produce_then_kill())
    proc.close()
    with ServerProcess(config) as again:
        got = asyncio.run(consume([again.api], "crash", 8))
    ids = [message_id for message_id, _ in got]
    assert len(ids) == len(set(ids)), "a message came back twice"
    stored = dict(got)
    missing = [i for i in acked if stored.get(i) != acked[i]]
    assert not missing, f"{len(missing)} acknowledged enqueues lost"


def test_mariadb_unreachable_at_start_names_host_and_port(tmp_path, start_server):
    port = free_port()
    config = server_config({"backend": "mysql", **MariaDB(port=port).config("pfs_nowhere")})
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(config).close()
    assert f"127.0.0.1:{port}" in str(failed.value) and "unavailable" in str(failed.value)
    # The same through the mount API: 503 with the address, the server stays up.
    proc = start_server(None)
    with httpx.Client(base_url=proc.api) as client:
        r = client.post("/mount", json={"fstype": "queuefs", "path": "/q",
                                        "config": config["plugins"]["queuefs"]["config"]})
        assert r.status_code == 503 and f"127.0.0.1:{port}" in r.json()["error"]
        assert client.get("/health").status_code == 200


def test_mariadb_outage_during_operation_is_503_and_loses_nothing(tmp_path, start_server):
    require_mariadb()
    relay = TcpRelay(MARIADB.host, MARIADB.port)
    try:
        with MARIADB.scratch_database("pfs_queuefs_outage") as database:
            db = MariaDB(host="127.0.0.1", port=relay.port)
            proc = start_server(server_config({"backend": "mysql", **db.config(database)}))
            with httpx.Client(base_url=proc.api, timeout=30) as client:
                ids = [enqueue(client, "jobs", f"m{i}".encode()) for i in range(10)]
                relay.cut()
                for path, call in (
                    ("enqueue", lambda: client.put(
                        "/files", params={"path": "/queuefs/jobs/enqueue"}, content=b"lost?")),
                    ("dequeue", lambda: read(client, "/queuefs/jobs/dequeue")),
                    ("size", lambda: read(client, "/queuefs/jobs/size")),
                ):
                    r = call()
                    assert r.status_code == 503, (path, r.text)
                    assert f"127.0.0.1:{relay.port}" in r.json()["error"]
                relay.restore()
                deadline = time.monotonic() + 20
                while read(client, "/queuefs/jobs/size").status_code != 200:
                    assert time.monotonic() < deadline, "server did not reconnect"
                    time.sleep(0.1)
                got = [dequeue(client, "jobs") for _ in range(10)]
                assert [m["id"] for m in got] == ids
                assert dequeue(client, "jobs") == {}
    finally:
        relay.close()
