"""Reads never consume data: walkers skip files whose read has an effect, partial reads of a
queue's ``dequeue`` are refused, and the effect is on the wire for remote walkers."""

from __future__ import annotations

import httpx
import pytest

from pfs.testing.fixtures import server_fixture

server = server_fixture(
    {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "streamfs": {"enabled": True, "path": "/streamfs"},
        }
    }
)


@pytest.fixture
def queue(api: httpx.Client):
    """A queue holding two messages; removed afterwards."""
    api.post("/directories", params={"path": "/queuefs/effects"})
    for message in ("first", "second"):
        api.put("/files", params={"path": "/queuefs/effects/enqueue"}, content=message)
    yield "/queuefs/effects"
    api.delete("/files", params={"path": "/queuefs/effects", "recursive": "true"})


def _size(api: httpx.Client, queue: str) -> int:
    return int(api.get("/files", params={"path": f"{queue}/size"}).text)


def test_listing_and_stat_carry_the_read_effect(api, queue):
    listed = {e["name"]: e for e in api.get("/directories", params={"path": queue}).json()["files"]}
    assert listed["dequeue"]["readEffect"] == "consumes"
    assert "readEffect" not in listed["peek"]
    stat = api.get("/stat", params={"path": f"{queue}/dequeue"}).json()
    assert stat["readEffect"] == "consumes"
    api.put("/files", params={"path": "/streamfs/effects-live"}, content=b"x")
    stream = api.get("/stat", params={"path": "/streamfs/effects-live"}).json()
    assert stream["readEffect"] == "endless"
    assert _size(api, queue) == 2


def test_recursive_grep_of_root_consumes_nothing(api, queue):
    answer = api.post("/grep", json={"path": "/", "pattern": "no-such-text", "recursive": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["count"] == 0
    streamed = api.post(
        "/grep", json={"path": "/queuefs", "pattern": "first", "recursive": True, "stream": True}
    )
    assert streamed.status_code == 200
    assert _size(api, queue) == 2


def test_digest_of_a_consuming_file_is_refused(api, queue):
    answer = api.post("/digest", json={"path": f"{queue}/dequeue"})
    assert answer.status_code == 400
    assert "consumes data" in answer.json()["error"]
    assert _size(api, queue) == 2


@pytest.mark.parametrize(
    "params, headers",
    [({"size": "5"}, {}), ({"offset": "2"}, {}), ({}, {"Range": "bytes=0-4"})],
)
def test_partial_read_of_dequeue_is_refused_and_loses_nothing(api, queue, params, headers):
    answer = api.get("/files", params={"path": f"{queue}/dequeue", **params}, headers=headers)
    assert answer.status_code == 400
    assert "read whole" in answer.json()["error"]
    assert _size(api, queue) == 2
    whole = api.get("/files", params={"path": f"{queue}/dequeue"}).json()
    assert whole["data"] == "first"
