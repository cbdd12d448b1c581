"""Blocking dequeue and peek (``?wait=N``) on every queuefs backend."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from urllib.parse import quote, urlsplit

import httpx
import orjson
import pytest

from pfs.fs.config import validate_config
from pfs.plugins.queuefs import layout as layouts
from pfs.plugins.queuefs.plugin import QueueFS
from pfs.testing.server import ServerProcess
from tests.helpers.queuefs import (
    BACKENDS,
    enqueue,
    queuefs_config,
    scratch_database,
    server_config,
    size,
)


@pytest.fixture(scope="module", params=BACKENDS)
def queue_server(request, tmp_path_factory):
    backend = request.param
    with scratch_database(backend, "pfs_wait") as database:
        config = queuefs_config(backend, tmp_path_factory.mktemp(backend), database)
        with ServerProcess(server_config(config)) as proc:
            yield proc


@pytest.fixture
def http(queue_server):
    with httpx.Client(base_url=queue_server.api, timeout=60) as client:
        yield client


def waiting_read(client: httpx.Client, queue: str, control: str, wait: float) -> dict:
    r = client.get("/files", params={"path": f"/queuefs/{queue}/{control}", "wait": str(wait)})
    assert r.status_code == 200, r.text
    return orjson.loads(r.content)


def in_thread(fn, *args):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("value", fn(*args)), daemon=True)
    thread.start()
    return thread, box


def test_empty_queue_answers_empty_after_the_wait(http):
    assert waiting_read(http, "wait-empty", "dequeue", 0.3) == {}
    assert waiting_read(http, "wait-empty", "peek", 0.2) == {}
    assert waiting_read(http, "wait-empty", "dequeue", 0) == {}


def test_waiting_dequeue_gets_a_later_message(http, queue_server):
    with httpx.Client(base_url=queue_server.api, timeout=60) as other:
        thread, box = in_thread(waiting_read, other, "wait-later", "dequeue", 30)
        enqueue(http, "wait-later", b"hello")
        thread.join(60)
    assert box["value"]["data"] == "hello"
    assert size(http, "wait-later") == 0


def test_waiting_peek_does_not_consume(http, queue_server):
    with httpx.Client(base_url=queue_server.api, timeout=60) as other:
        thread, box = in_thread(waiting_read, other, "wait-peek", "peek", 30)
        enqueue(http, "wait-peek", b"look")
        thread.join(60)
    assert box["value"]["data"] == "look"
    assert size(http, "wait-peek") == 1
    assert waiting_read(http, "wait-peek", "dequeue", 1)["data"] == "look"


def _abandoned_waits(api: str, queue: str, count: int) -> None:
    """``count`` clients start a 30-second dequeue and leave before any message comes."""
    parts = urlsplit(api)
    target = f"{parts.path}/files?path={quote(f'/queuefs/{queue}/dequeue')}&wait=30"
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: pfs\r\n\r\n".encode())
        sockets.append(sock)
    time.sleep(0.3)  # ordering only: the requests reach their handlers before the clients leave
    for sock in sockets:
        sock.close()
    time.sleep(0.3)


def test_clients_leaving_mid_wait_lose_nothing(http, queue_server):
    _abandoned_waits(queue_server.api, "wait-left", 8)
    sent = [f"m{i}".encode() for i in range(20)]
    for data in sent:
        enqueue(http, "wait-left", data)
    got = [waiting_read(http, "wait-left", "dequeue", 5)["data"] for _ in sent]
    assert got == [data.decode() for data in sent]
    assert waiting_read(http, "wait-left", "dequeue", 0) == {}


@pytest.mark.parametrize("wait", ["-1", "61", "abc", "nan"])
def test_bad_wait_is_refused(http, wait):
    r = http.get("/files", params={"path": "/queuefs/q/dequeue", "wait": wait})
    assert r.status_code == 400
    assert "wait" in r.json()["error"]


def test_wait_on_other_files_is_refused(http):
    r = http.get("/files", params={"path": "/queuefs/q/size", "wait": "1"})
    assert r.status_code == 400
    assert "dequeue and peek" in r.json()["error"]


def test_many_consumers_from_two_servers_on_mysql(tmp_path):
    """16 consumers wait on server A; 1,000 messages come over 10 s, half through A, half
    through B (same MariaDB). Each is delivered once; the wake-up latency is reported."""
    with scratch_database("mysql", "pfs_wait2") as database:
        config = server_config(queuefs_config("mysql", tmp_path, database))
        with ServerProcess(config) as a, ServerProcess(config) as b:
            _many_consumers(a, b)


def _many_consumers(a: ServerProcess, b: ServerProcess) -> None:
    received: list[tuple[dict, float]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def consume() -> None:
        with httpx.Client(base_url=a.api, timeout=60) as client:
            while not stop.is_set():
                message = waiting_read(client, "load", "dequeue", 2)
                if message:
                    with lock:
                        received.append((message, time.time()))

    consumers = [threading.Thread(target=consume, daemon=True) for _ in range(16)]
    for consumer in consumers:
        consumer.start()
    time.sleep(0.5)  # ordering only: the consumers are waiting before the first message
    with (
        httpx.Client(base_url=a.api, timeout=60) as via_a,
        httpx.Client(base_url=b.api, timeout=60) as via_b,
    ):
        start = time.time()
        for i in range(1000):
            pause = start + i * 0.01 - time.time()
            if pause > 0:
                time.sleep(pause)
            origin = "a" if i % 2 == 0 else "b"
            body = orjson.dumps({"i": i, "origin": origin, "sent": time.time()})
            enqueue(via_a if origin == "a" else via_b, "load", body)
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if len(received) >= 1000:
                break
        time.sleep(0.05)
    stop.set()
    for consumer in consumers:
        consumer.join(10)
    bodies = [orjson.loads(message["data"]) for message, _ in received]
    assert sorted(body["i"] for body in bodies) == list(range(1000))  # each exactly once
    latency = {"a": [], "b": []}
    for (_, got), body in zip(received, bodies, strict=True):
        latency[body["origin"]].append(got - body["sent"])
    same, other = (statistics.median(latency[k]) * 1000 for k in ("a", "b"))
    print(f"\nmedian wake-up latency: same server {same:.1f} ms, other server {other:.1f} ms")


@pytest.mark.parametrize(
    ("backend", "layout", "visibility"),
    [
        *((backend, "pfs", visibility) for backend in BACKENDS for visibility in (0, 30)),
        ("sqlite", "agfs", 0),
        ("mysql", "agfs", 0),
    ],
)
def test_put_back_restores_the_message_in_its_place(tmp_path, backend, layout, visibility):
    """What a blocking dequeue does with a message taken as its client left."""

    async def scenario(database: str | None) -> list[str]:
        raw = queuefs_config(backend, tmp_path, database)
        config = validate_config("queuefs", QueueFS.config_schema, raw)
        queue = layouts.build(backend, layout, config)
        await queue.start()
        try:
            for data in (b"first", b"second"):
                await queue.enqueue("q", data)
            taken = await queue.dequeue("q", visibility)
            assert taken is not None and await queue.size("q") == 1
            await queue.put_back("q", taken)
            assert await queue.size("q") == 2
            got = [await queue.dequeue("q", 0) for _ in range(3)]
            return [m.data.decode() if m else "" for m in got]
        finally:
            await queue.close()

    with scratch_database(backend, "pfs_putback") as database:
        assert asyncio.run(scenario(database)) == ["first", "second", ""]


def test_watchers_hear_of_enqueues_through_other_servers_on_postgres(tmp_path):
    """Postgres tells every server of every enqueue: a watcher on server A sees B's enqueue as an
    outside write of the queue's enqueue file, and A's own enqueue once."""
    from pfs.client import Client

    with scratch_database("postgres", "pfs_watchq") as database:
        config = server_config(queuefs_config("postgres", tmp_path, database))
        with ServerProcess(config) as a, ServerProcess(config) as b, Client(a.api) as pfs:
            pfs.mkdir("/queuefs/jobs")
            stream = pfs.watch("/queuefs/jobs", recursive=True)
            assert next(stream)["type"] == "ready"
            with httpx.Client(base_url=b.api, timeout=60) as via_b:
                enqueue(via_b, "jobs", b"from b")
            first = next(stream)
            assert (first["type"], first["path"], first.get("outside")) == (
                "write", "/queuefs/jobs/enqueue", True
            )  # fmt: skip
            with httpx.Client(base_url=a.api, timeout=60) as via_a:
                enqueue(via_a, "jobs", b"from a")
            own = next(stream)
            assert (own["type"], own.get("outside", False)) == ("write", False)
            with httpx.Client(base_url=b.api, timeout=60) as via_b:
                time.sleep(1.1)  # ordering only: past the echo window of A's own enqueue
                enqueue(via_b, "jobs/sub", b"from b again")
            # The next event is B's: A's own enqueue was not told a second time as its echo.
            again = next(stream)
            assert (again["path"], again.get("outside")) == ("/queuefs/jobs/sub/enqueue", True)
            stream.close()


def test_server_stops_with_consumers_waiting(tmp_path):
    """SIGTERM answers waiting dequeues ({}) instead of holding the graceful stop."""
    with ServerProcess(server_config(queuefs_config("memory", tmp_path, None))) as proc:
        with httpx.Client(base_url=proc.api, timeout=60) as client:
            thread, box = in_thread(waiting_read, client, "stopping", "dequeue", 60)
            # ordering only: the request is waiting when the server is told to stop
            time.sleep(0.5)
            assert proc.stop() == 0
            thread.join(30)
    assert box["value"] == {}


def test_sdk_dequeue_and_peek_wait(tmp_path):
    """Client.dequeue/peek(queue, wait): a wait longer than the client's timeout is allowed for
    (the timeout of that call grows by the wait)."""
    from pfs.client import AsyncClient, Client

    with ServerProcess(server_config(queuefs_config("memory", tmp_path, None))) as proc:
        with Client(proc.api, timeout=1) as pfs:
            assert pfs.dequeue("/queuefs/sdk", wait=1.5) == {}
            pfs.write("/queuefs/sdk/enqueue", "one")
            assert pfs.peek("/queuefs/sdk", wait=5)["data"] == "one"

        async def take() -> dict:
            async with AsyncClient(proc.api, timeout=1) as client:
                return await client.dequeue("/queuefs/sdk/", wait=5)

        assert asyncio.run(take())["data"] == "one"
