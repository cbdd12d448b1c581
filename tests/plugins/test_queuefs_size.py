"""queuefs size is kept, not counted: it follows every way messages come and go on every
backend, and a database made before the counters existed is counted when first mounted."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.queuefs import (
    BACKENDS,
    MARIADB,
    dequeue,
    enqueue,
    queuefs_config,
    scratch_database,
    server_config,
    size,
)


@pytest.fixture(params=BACKENDS)
def setup(request, tmp_path):
    backend = request.param
    with scratch_database(backend, "pfs_queuefs_size") as database:
        yield backend, queuefs_config(backend, tmp_path, database)


def put(client: httpx.Client, path: str, data: bytes = b"") -> None:
    r = client.put("/files", params={"path": f"/queuefs/{path}"}, content=data)
    assert r.status_code == 200, r.text


def stat_size(client: httpx.Client, queue: str) -> int:
    """The size control file's stat size: the length of the count's decimal text."""
    return client.get("/stat", params={"path": f"/queuefs/{queue}/size"}).json()["size"]


def test_size_follows_enqueue_dequeue_in_flight_ack_clear_and_removal(setup, start_server):
    backend, config = setup
    proc = start_server(server_config(config))
    with httpx.Client(base_url=proc.api, timeout=30) as client:
        for i in range(12):
            enqueue(client, "a", b"m%d" % i)
        enqueue(client, "a/b", b"nested")
        enqueue(client, "other", b"x")
        assert (size(client, "a"), size(client, "a/b"), size(client, "other")) == (12, 1, 1)
        assert stat_size(client, "a") == 2
        dequeue(client, "a")
        assert size(client, "a") == 11
        if backend != "memory":
            # The memory backend keeps no in-flight state across a restart; the rest do.
            put(client, "a/visibility_timeout", b"60")
            taken = dequeue(client, "a")
            assert size(client, "a") == 10  # in flight: not counted
            put(client, "a/ack", taken["id"].encode())
            assert size(client, "a") == 10
            put(client, "a/visibility_timeout", b"0.5")
            expired = dequeue(client, "a")
            assert size(client, "a") == 9
            if backend in ("redis", "nats"):
                # The engine hands an expired message out again at the next dequeue and counts
                # it as in flight until then (README): no count comes back by itself.
                time.sleep(1.5)
                assert size(client, "a") == 9
                assert dequeue(client, "a")["data"] == expired["data"]
                assert size(client, "a") == 9
            else:
                end = time.monotonic() + 30
                while size(client, "a") != 10:  # the timeout passes: counted again
                    assert time.monotonic() < end, "the in-flight message never came back"
                    time.sleep(0.1)
            put(client, "a/visibility_timeout", b"0")
        put(client, "a/clear")
        assert (size(client, "a"), size(client, "a/b")) == (0, 1)
        enqueue(client, "a", b"again")
        assert size(client, "a") == 1
        r = client.delete("/files", params={"path": "/queuefs/a", "recursive": "true"})
        assert r.status_code == 200, r.text
        assert (size(client, "a"), size(client, "a/b"), size(client, "other")) == (0, 0, 1)
        enqueue(client, "a", b"new")
        assert size(client, "a") == 1


def test_sqlite_database_from_before_the_counters_is_counted(tmp_path):
    config = queuefs_config("sqlite", tmp_path, None)
    with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
        for i in range(5):
            enqueue(c, "old", b"%d" % i)
        enqueue(c, "old2", b"x")
    with sqlite3.connect(config["db_path"]) as conn:  # back to the layout without counters
        conn.execute("DROP TABLE queuefs_counts")
        conn.execute("DROP INDEX queuefs_messages_in_flight")
    with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
        assert (size(c, "old"), size(c, "old2")) == (5, 1)
        dequeue(c, "old")
        assert size(c, "old") == 4
    with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
        assert size(c, "old") == 4  # counted once, not again at the next start


def test_mysql_tables_from_before_the_counters_are_counted(tmp_path):
    with scratch_database("mysql", "pfs_queuefs_size_old") as database:
        config = queuefs_config("mysql", tmp_path, database)
        with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
            for i in range(5):
                enqueue(c, "old", b"%d" % i)
        MARIADB.run(f"DROP TABLE `{database}`.queuefs_counts")
        MARIADB.run(
            f"ALTER TABLE `{database}`.queuefs_messages DROP INDEX queuefs_messages_in_flight"
        )
        with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
            assert size(c, "old") == 5
            dequeue(c, "old")
            assert size(c, "old") == 4
        with ServerProcess(server_config(config)) as proc, httpx.Client(base_url=proc.api) as c:
            assert size(c, "old") == 4
