"""queuefs at-least-once mode: in flight until acked, redelivered after the timeout and restarts."""

from __future__ import annotations

import time

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.queuefs import (
    BACKENDS,
    dequeue,
    enqueue,
    queuefs_config,
    read,
    scratch_database,
    server_config,
    size,
)

TIMEOUT = 1.0
#: Back ends whose redelivered copies carry a new id (the last digits count deliveries).
DELIVERY_IDS = ("redis", "nats")


@pytest.fixture(params=BACKENDS)
def setup(request, tmp_path):
    """(backend, config factory) with a scratch database for mysql and postgres."""
    backend = request.param
    with scratch_database(backend, "pfs_queuefs_alo") as database:
        yield backend, lambda **extra: queuefs_config(backend, tmp_path, database, **extra)


def wait_for_redelivery(client: httpx.Client, queue: str, deadline_s: float = 30.0) -> dict:
    """Dequeue until a message shows up (the visibility timeout has to pass first)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        message = dequeue(client, queue)
        if message:
            return message
        time.sleep(0.2)
    raise AssertionError(f"nothing redelivered on {queue} within {deadline_s}s")


def set_timeout(client: httpx.Client, queue: str, seconds: float) -> None:
    r = client.put("/files", params={"path": f"/queuefs/{queue}/visibility_timeout"},
                   content=str(seconds).encode())
    assert r.status_code == 200, r.text


def ack(client: httpx.Client, queue: str, message_id: str) -> httpx.Response:
    return client.put("/files", params={"path": f"/queuefs/{queue}/ack"},
                      content=message_id.encode())


def test_unacked_message_is_redelivered_and_acked_one_never(setup, start_server):
    backend, config = setup
    proc = start_server(server_config(config()))
    with httpx.Client(base_url=proc.api, timeout=30) as client:
        set_timeout(client, "jobs", TIMEOUT)
        assert read(client, "/queuefs/jobs/visibility_timeout").text == "1"
        first = enqueue(client, "jobs", b"one")
        second = enqueue(client, "jobs", b"two")
        taken = dequeue(client, "jobs")
        assert taken["id"] == first
        # In flight: not visible to peek/size/dequeue until the timeout passes.
        assert size(client, "jobs") == 1
        assert dequeue(client, "jobs")["id"] == second
        assert dequeue(client, "jobs") == {}
        assert ack(client, "jobs", second).status_code == 200
        again = wait_for_redelivery(client, "jobs")
        if backend in DELIVERY_IDS:
            # Each delivery has its own id: the first copy's late ack must not ack the new one.
            assert again["id"] != taken["id"] and {**again, "id": first} == taken
            assert ack(client, "jobs", first).status_code == 404
            first = again["id"]
        else:
            assert again == taken
        assert ack(client, "jobs", first).json() == {"message": "OK"}
        # Both acked: nothing comes back even after the timeout.
        time.sleep(TIMEOUT * 1.5)
        assert dequeue(client, "jobs") == {}
        assert size(client, "jobs") == 0


def test_ack_errors(setup, start_server):
    backend, config = setup
    proc = start_server(server_config(config(visibility_timeout=30)))
    with httpx.Client(base_url=proc.api, timeout=30) as client:
        message_id = enqueue(client, "jobs", b"x")
        r = ack(client, "jobs", message_id)
        assert r.status_code == 404 and "not in flight" in r.json()["error"]  # not dequeued yet
        assert dequeue(client, "jobs")["id"] == message_id
        r = ack(client, "jobs", "999999999999")
        assert r.status_code == 404 and "999999999999" in r.json()["error"]
        r = ack(client, "jobs", "not-an-id")
        assert r.status_code == 400 and "expected a message id" in r.json()["error"]
        r = ack(client, "other", message_id)
        assert r.status_code == 404
        assert ack(client, "jobs", message_id).status_code == 200
        assert ack(client, "jobs", message_id).status_code == 404  # twice
        r = client.put("/files", params={"path": "/queuefs/jobs/visibility_timeout"},
                       content=b"-3")
        assert r.status_code == 400 and "visibility_timeout" in r.json()["error"]
        assert read(client, "/queuefs/jobs/visibility_timeout").text == "30"


def test_destructive_mode_is_the_default(setup, start_server):
    backend, config = setup
    proc = start_server(server_config(config()))
    with httpx.Client(base_url=proc.api, timeout=30) as client:
        assert read(client, "/queuefs/q/visibility_timeout").text == "0"
        message_id = enqueue(client, "q", b"x")
        assert dequeue(client, "q")["id"] == message_id
        assert ack(client, "q", message_id).status_code == 404
        time.sleep(0.3)
        assert dequeue(client, "q") == {}


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres", "redis", "nats"])
def test_in_flight_survives_restart_and_is_redelivered(backend, tmp_path):
    with scratch_database(backend, "pfs_queuefs_restart") as database:
        config = server_config(queuefs_config(backend, tmp_path, database,
                                              visibility_timeout=TIMEOUT * 2))
        with ServerProcess(config) as proc, httpx.Client(base_url=proc.api, timeout=30) as c:
            message_id = enqueue(c, "jobs", b"survive")
            assert dequeue(c, "jobs")["id"] == message_id
        with ServerProcess(config) as proc, httpx.Client(base_url=proc.api, timeout=30) as c:
            again = wait_for_redelivery(c, "jobs")
            assert again["data"] == "survive"
            if backend in DELIVERY_IDS:  # the second delivery: the late ack is refused
                assert int(again["id"]) == int(message_id) + 1
                assert ack(c, "jobs", message_id).status_code == 404
                message_id = again["id"]
            assert again["id"] == message_id
            assert ack(c, "jobs", message_id).status_code == 200
        with ServerProcess(config) as proc, httpx.Client(base_url=proc.api, timeout=30) as c:
            time.sleep(TIMEOUT * 2.5)
            assert dequeue(c, "jobs") == {}
