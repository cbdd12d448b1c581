"""A MySQL or PostgreSQL database that stops answering (connections stay open, no reply ever
comes) fails requests within ``query_timeout`` — 504 naming ``host:port`` — instead of holding
them for the whole outage, and the mount serves again once the database answers (issue 12
item 2).

The database is the shared MariaDB or PostgreSQL behind a :class:`TcpRelay` this module
freezes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.mariadb import MariaDB, TcpRelay
from pfs.testing.postgres import Postgres
from tests.helpers.queuefs import MARIADB, POSTGRES, scratch_database

#: query_timeout and connect_timeout of the mounts under test (seconds).
TIMEOUT = 1
#: Longest a request may take while the database is frozen: the timeout plus room for a loaded
#: machine. Without the timeouts a request waits for as long as the freeze lasts.
BOUND = TIMEOUT + 3

server = server_fixture(MEMFS_ONLY)


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def engine(request):
    return request.param


@pytest.fixture(scope="module")
def database(engine):
    with scratch_database(engine, "pfs_sql_outage") as name:
        yield name


@pytest.fixture(scope="module")
def relay(engine, database):
    server = POSTGRES if engine == "postgres" else MARIADB
    relay = TcpRelay(server.host, server.port)
    yield relay
    relay.close()


@pytest.fixture
def client(server):
    # Far longer than BOUND: a held request shows as a failed assertion, not a client timeout.
    with httpx.Client(base_url=server.api, timeout=30) as client:
        yield client


def db_config(engine: str, relay: TcpRelay, database: str, **extra) -> dict:
    """A config of ``database`` on ``engine`` reached through ``relay``."""
    timeouts = {"query_timeout": TIMEOUT, "connect_timeout": TIMEOUT}
    if engine == "postgres":
        through = Postgres(port=relay.port, user=POSTGRES.user, password=POSTGRES.password)
        return through.config(database, **timeouts, **extra)
    through_relay = MariaDB(host="127.0.0.1", port=relay.port)
    return {"backend": "mysql", **through_relay.config(database, **timeouts), **extra}


def mount(client: httpx.Client, fstype: str, path: str, config: dict) -> httpx.Response:
    return client.post("/mount", json={"fstype": fstype, "path": path, "config": config})


def put(client: httpx.Client, path: str, data: bytes) -> httpx.Response:
    return client.put("/files", params={"path": path}, content=data)


def get(client: httpx.Client, path: str) -> httpx.Response:
    return client.get("/files", params={"path": path})


#: Per plugin: extra config, the file a write goes to, the file a read comes from, and what
#: that read answers after ``b"after"`` was written.
PLUGINS = {
    "kvfs": ({}, "/keys/k", "/keys/k", b"after"),
    "queuefs": ({}, "/jobs/enqueue", "/jobs/size", None),
    "sqlfs": ({"cache_enabled": False}, "/f.txt", "/f.txt", b"after"),
}


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.parametrize("fstype", sorted(PLUGINS))
def test_frozen_database_fails_requests_in_bounded_time_and_recovers(
    fstype, engine, relay, database, client
):
    extra, write_path, read_path, expected = PLUGINS[fstype]
    where = f"/{fstype}_outage"
    config = db_config(engine, relay, database, **extra)
    assert mount(client, fstype, where, config).status_code == 200
    try:
        assert put(client, where + write_path, b"before").status_code == 200
        assert get(client, where + read_path).status_code == 200

        relay.freeze()
        try:
            # Three reads and a write at once: waiting for a pooled connection is bounded too.
            calls = [lambda: get(client, where + read_path)] * 3
            calls.append(lambda: put(client, where + write_path, b"during"))
            with ThreadPoolExecutor(len(calls)) as pool:
                results = list(pool.map(timed, calls))
        finally:
            relay.thaw()
        for response, elapsed in results:
            assert response.status_code == 504, response.text
            assert f"127.0.0.1:{relay.port}" in response.json()["error"]
            assert elapsed < BOUND, f"held {elapsed:.1f}s with query_timeout {TIMEOUT}s"

        # Answering again: the timed-out connections were dropped, new ones work at once.
        assert put(client, where + write_path, b"after").status_code == 200
        after = get(client, where + read_path)
        assert after.status_code == 200
        if expected is not None:
            assert after.content == expected
    finally:
        client.post("/unmount", json={"path": where})


def test_mount_while_frozen_fails_in_bounded_time(engine, relay, database, client):
    relay.freeze()
    try:
        response, elapsed = timed(
            lambda: mount(client, "kvfs", "/kv_frozen", db_config(engine, relay, database))
        )
    finally:
        relay.thaw()
    assert response.status_code == 504, response.text
    assert f"127.0.0.1:{relay.port}" in response.json()["error"]
    assert elapsed < BOUND
    config = db_config(engine, relay, database)
    assert mount(client, "kvfs", "/kv_frozen", config).status_code == 200
    client.post("/unmount", json={"path": "/kv_frozen"})
