"""queuefs over HTTP on every backend: the README workflow, file semantics, bad input."""

from __future__ import annotations

import orjson
import pytest

from pfs.fs.fileinfo import parse_time_ns
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


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def qserver(backend, tmp_path_factory):
    """One server per backend for this module (a scratch database for mysql and postgres)."""
    tmp = tmp_path_factory.mktemp(backend)
    with scratch_database(backend, "pfs_queuefs") as database:
        with ServerProcess(server_config(queuefs_config(backend, tmp, database))) as proc:
            yield proc


@pytest.fixture
def api(qserver):
    import httpx

    with httpx.Client(base_url=qserver.api, timeout=60) as client:
        yield client
        client.delete("/files", params={"path": "/queuefs/t", "recursive": "true"})


def listing(api, path: str) -> list[str]:
    r = api.get("/directories", params={"path": path})
    assert r.status_code == 200, r.text
    return [f["name"] for f in r.json()["files"] or []]


def test_readme_workflow(api):
    """The README's WORKFLOW and EXAMPLES sections, with the outputs they show."""
    for queue in ("orders", "notifications", "logs/errors"):
        assert api.post("/directories", params={"path": f"/queuefs/t/{queue}"}).status_code == 201
    order_id = enqueue(api, "t/orders", b"order-123\n")
    enqueue(api, "t/notifications", b"user login\n")
    enqueue(api, "t/logs/errors", b"connection timeout\n")
    assert order_id.isdigit()
    assert read(api, "/queuefs/t/orders/size").content == b"1"
    peeked = orjson.loads(read(api, "/queuefs/t/orders/peek").content)
    message = dequeue(api, "t/orders")
    assert message == peeked
    assert set(message) == {"id", "data", "timestamp"}
    assert message["id"] == order_id and message["data"] == "order-123\n"
    assert parse_time_ns(message["timestamp"]) > 0
    assert read(api, "/queuefs/t/orders/dequeue").content == b"{}"
    assert read(api, "/queuefs/t/orders/peek").content == b"{}"
    assert read(api, "/queuefs/t/orders/size").content == b"0"
    assert sorted(listing(api, "/queuefs/t")) == ["logs", "notifications", "orders"]
    assert "README" in listing(api, "/queuefs")
    assert listing(api, "/queuefs/t/logs") == ["errors"]
    assert dequeue(api, "t/logs/errors")["data"] == "connection timeout\n"
    enqueue(api, "t/notifications", b"second\n")
    assert api.put("/files", params={"path": "/queuefs/t/notifications/clear"},
                   content=b"\n").json() == {"message": "OK"}
    assert size(api, "t/notifications") == 0
    r = api.delete("/files", params={"path": "/queuefs/t/orders", "recursive": "true"})
    assert r.status_code == 200
    assert sorted(listing(api, "/queuefs/t")) == ["logs", "notifications"]


def test_fifo_order_ids_increase_and_enqueue_creates_queue(api):
    ids = [int(enqueue(api, "t/fifo", f"m{i}".encode())) for i in range(20)]
    assert ids == sorted(ids) and len(set(ids)) == 20
    assert "fifo" in listing(api, "/queuefs/t")
    assert [dequeue(api, "t/fifo")["data"] for _ in range(20)] == [f"m{i}" for i in range(20)]


def test_control_files_and_stat(api, backend):
    api.post("/directories", params={"path": "/queuefs/t/s"})
    names = listing(api, "/queuefs/t/s")
    assert names[:5] == ["enqueue", "dequeue", "peek", "size", "clear"]
    root = api.get("/stat", params={"path": "/queuefs"}).json()
    assert root["isDir"] and root["meta"]["Content"] == {"backend": backend}
    enqueue(api, "t/s", b"a")
    enqueue(api, "t/s", b"b")
    peek_stat = api.get("/stat", params={"path": "/queuefs/t/s/peek"}).json()
    last = orjson.loads(read(api, "/queuefs/t/s/peek").content)
    assert peek_stat["mode"] == 0o444
    # modTime of peek is the newest message's enqueue time (the second one here).
    newest_ts = parse_time_ns(peek_stat["modTime"])
    assert newest_ts >= parse_time_ns(last["timestamp"])
    size_stat = api.get("/stat", params={"path": "/queuefs/t/s/size"}).json()
    assert size_stat["size"] == 1 and size_stat["meta"]["Type"] == "status"
    listed = {f["name"]: f for f in api.get("/directories",
                                            params={"path": "/queuefs/t/s"}).json()["files"]}
    assert listed["peek"]["modTime"] == peek_stat["modTime"] and listed["size"]["size"] == 1
    enqueue_stat = api.get("/stat", params={"path": "/queuefs/t/s/enqueue"}).json()
    assert enqueue_stat["mode"] == 0o222
    probe = api.get("/stat", params={"path": "/queuefs/t/never/made"})
    assert probe.status_code == 200 and probe.json()["isDir"]


def test_partial_read_of_dequeue_is_refused_and_consumes_nothing(api):
    enqueue(api, "t/r", b"hello")
    r = api.get("/files", params={"path": "/queuefs/t/r/dequeue", "offset": 0, "size": 5})
    assert r.status_code == 400 and "read whole" in r.json()["error"]
    assert size(api, "t/r") == 1


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/queuefs/t/q/dequeue", 400, "/queuefs/t/q/dequeue: cannot write to: /t/q/dequeue"),
        ("/queuefs/t/q/peek", 400, "/queuefs/t/q/peek: cannot write to: /t/q/peek"),
        ("/queuefs/t/q/size", 400, "/queuefs/t/q/size: cannot write to: /t/q/size"),
        ("/queuefs/t/q", 400, "is a directory: /queuefs/t/q"),
        (
            "/queuefs/enqueue",
            400,
            "/queuefs/enqueue: invalid path: operation without queue name",
        ),
    ],
)
def test_bad_writes(api, path, status, message):
    enqueue(api, "t/q", b"keep")
    r = api.put("/files", params={"path": path}, content=b"x")
    assert (r.status_code, r.json()["error"]) == (status, message)
    assert size(api, "t/q") == 1
    assert dequeue(api, "t/q")["data"] == "keep"


@pytest.mark.parametrize("control", ["enqueue", "clear", "ack"])
def test_reading_write_only_files_is_refused(api, control):
    enqueue(api, "t/w", b"keep")
    r = read(api, f"/queuefs/t/w/{control}")
    assert r.status_code == 403
    assert r.json()["error"] == (
        f"/queuefs/t/w/{control}: permission denied: /t/w/{control} is write-only"
    )
    assert size(api, "t/w") == 1


def test_reading_a_queue_directory(api):
    r = read(api, "/queuefs/t/dir")
    assert (r.status_code, r.json()["error"]) == (400, "is a directory: /queuefs/t/dir")


def test_dotdot_cannot_escape_or_create_queues(api):
    before = listing(api, "/queuefs")
    r = api.put("/files", params={"path": "/queuefs/t/../../enqueue"}, content=b"x")
    assert r.status_code >= 400 and r.json()["error"]
    r = api.put("/files", params={"path": "/queuefs/../etc/enqueue"}, content=b"x")
    assert r.status_code >= 400 and r.json()["error"]
    assert listing(api, "/queuefs") == before
    # A `..` that stays inside the mount is resolved, not kept in the queue name.
    enqueue(api, "t/a/../b", b"x")
    assert listing(api, "/queuefs/t") == ["b"]


def test_empty_message_is_refused(api):
    enqueue(api, "t/e", b"keep")
    r = api.put("/files", params={"path": "/queuefs/t/e/enqueue"}, content=b"")
    assert r.status_code == 400 and "empty message" in r.json()["error"]
    assert size(api, "t/e") == 1


def test_ten_mib_message_round_trips_exactly(api, backend):
    body = (b"0123456789abcdef" * (1 << 16)) * 10  # 10 MiB
    if backend == "nats":  # a NATS message is at most the server's max_payload (1 MiB here)
        r = api.put("/files", params={"path": "/queuefs/t/big/enqueue"}, content=body)
        assert r.status_code == 413 and "max_payload" in r.json()["error"], r.text
        assert size(api, "t/big") == 0
        return
    message_id = enqueue(api, "t/big", body)
    message = dequeue(api, "t/big")
    assert message["id"] == message_id
    assert message["data"].encode() == body


def test_mkdir_rules_and_removals(api):
    assert api.post("/directories", params={"path": "/queuefs/t/m"}).status_code == 201
    assert api.post("/directories", params={"path": "/queuefs/t/m"}).status_code == 201
    r = api.delete("/files", params={"path": "/queuefs/t/m"})
    assert r.status_code == 400 and "RemoveAll" in r.json()["error"]
    r = api.delete("/files", params={"path": "/queuefs/t/m/size"})
    assert (r.status_code, r.json()["error"]) == (
        403,
        "/queuefs/t/m/size: cannot remove control files: /t/m/size",
    )
    r = api.delete("/files", params={"path": "/queuefs/t/m/size", "recursive": "true"})
    assert r.status_code == 400 and "not a directory" in r.json()["error"]
    r = api.post("/rename", params={"path": "/queuefs/t/m"}, json={"newPath": "/queuefs/t/n"})
    assert (r.status_code, r.json()["error"]) == (
        501,
        "/queuefs/t/m: cannot rename files in queuefs service",
    )
    assert api.post("/files", params={"path": "/queuefs/t/m/enqueue"}).status_code == 201


def test_message_larger_than_limit_is_refused(start_server, tmp_path):
    proc = start_server(server_config(queuefs_config("memory", tmp_path, None,
                                                     max_message_size="1KB")))
    import httpx

    with httpx.Client(base_url=proc.api) as client:
        r = client.put("/files", params={"path": "/queuefs/q/enqueue"}, content=b"x" * 1025)
        assert r.status_code == 413 and "max_message_size" in r.json()["error"]
        assert size(client, "q") == 0
        assert enqueue(client, "q", b"x" * 1024)


def test_default_config_mounts_queuefs_in_memory(start_server):
    import httpx

    proc = start_server(None)
    with httpx.Client(base_url=proc.api) as client:
        mounts = client.get("/mounts").json()["mounts"]
        assert any(m["path"] == "/queuefs" and m["pluginName"] == "queuefs" for m in mounts)
        root = client.get("/stat", params={"path": "/queuefs"}).json()
        assert root["meta"]["Content"] == {"backend": "memory"}
        message_id = enqueue(client, "demo", b"hi\n")
        message = dequeue(client, "demo")
        assert (message["id"], message["data"]) == (message_id, "hi\n")
