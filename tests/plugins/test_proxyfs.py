"""proxyfs: federation of real pfs-servers over loopback."""

from __future__ import annotations

import hashlib
import os
import socket

import httpx
import pytest

from pfs.client import Client
from pfs.testing.fixtures import server_fixture
from pfs.testing.server import ServerProcess, free_port

MEMFS = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}


remote_a = server_fixture(MEMFS)


remote_b = server_fixture(MEMFS)


@pytest.fixture(scope="module")
def front(remote_a, remote_b):
    """A server with /remote/a and /remote/b proxying the two remotes' whole namespaces."""
    with ServerProcess(MEMFS) as server:
        for name, remote in (("a", remote_a), ("b", remote_b)):
            r = httpx.post(
                server.api + "/mount",
                json={
                    "fstype": "proxyfs",
                    "path": f"/remote/{name}",
                    "config": {"base_url": remote.url + "/"},
                },
            )
            assert r.status_code == 200, r.text
        yield server


@pytest.fixture
def api(front):
    with httpx.Client(base_url=front.api, timeout=60) as client:
        yield client


def test_every_operation_passes_through(api, remote_a):
    """Each operation through /remote/a lands on the remote exactly as if done there."""
    direct = httpx.Client(base_url=remote_a.api)
    assert (
        api.post("/directories", params={"path": "/remote/a/memfs/ops", "mode": "700"}).status_code
        == 201
    )
    assert direct.get("/stat", params={"path": "/memfs/ops"}).json()["mode"] == 0o700
    assert api.post("/files", params={"path": "/remote/a/memfs/ops/empty"}).status_code == 201
    api.put("/files", params={"path": "/remote/a/memfs/ops/f.txt"}, content=b"hello world")
    assert direct.get("/files", params={"path": "/memfs/ops/f.txt"}).content == b"hello world"
    r = api.get("/files", params={"path": "/remote/a/memfs/ops/f.txt", "offset": 6, "size": 3})
    assert r.content == b"wor"
    r = api.put(
        "/files", params={"path": "/remote/a/memfs/ops/f.txt", "flags": "append"}, content=b"!"
    )
    assert r.status_code == 200
    assert direct.get("/files", params={"path": "/memfs/ops/f.txt"}).content == b"hello world!"
    stat = api.get("/stat", params={"path": "/remote/a/memfs/ops/f.txt"}).json()
    assert stat["size"] == 12
    assert stat["meta"]["Content"]["remote-url"] == remote_a.url + "/api/v1"
    listing = api.get("/directories", params={"path": "/remote/a/memfs/ops"}).json()["files"]
    assert sorted(f["name"] for f in listing) == ["empty", "f.txt"]
    r = api.post(
        "/rename",
        params={"path": "/remote/a/memfs/ops/f.txt"},
        json={"newPath": "/remote/a/memfs/ops/g.txt"},
    )
    assert r.status_code == 200
    assert (
        api.post(
            "/chmod", params={"path": "/remote/a/memfs/ops/g.txt"}, json={"mode": 0o600}
        ).status_code
        == 200
    )
    assert direct.get("/stat", params={"path": "/memfs/ops/g.txt"}).json()["mode"] == 0o600
    assert api.delete("/files", params={"path": "/remote/a/memfs/ops/empty"}).status_code == 200
    r = api.delete("/files", params={"path": "/remote/a/memfs/ops", "recursive": "true"})
    assert r.status_code == 200
    assert direct.get("/stat", params={"path": "/memfs/ops"}).status_code == 404
    direct.close()


def test_remote_errors_keep_status_and_message(api, remote_a):
    """A remote error arrives with the remote's own status and text."""
    direct = httpx.Client(base_url=remote_a.api)
    direct.post("/directories", params={"path": "/memfs/errs"})
    for method, endpoint, params in (
        ("GET", "/files", {"path": "/memfs/errs/missing"}),
        ("POST", "/directories", {"path": "/memfs/errs"}),
        ("GET", "/files", {"path": "/memfs/errs"}),
        ("POST", "/files", {"path": "/memfs/nodir/x"}),
    ):
        want = direct.request(method, endpoint, params=params)
        got = api.request(method, endpoint, params={"path": "/remote/a" + params["path"]})
        assert (got.status_code, got.json()) == (want.status_code, want.json()), params
    direct.close()


def test_federated_copy_streams_between_remotes(front, remote_a, remote_b):
    """A 40 MiB file copied /remote/a → /remote/b arrives intact; the front server buffers none."""
    data = os.urandom(40 << 20)
    httpx.put(remote_a.api + "/files", params={"path": "/memfs/big.bin"}, content=data, timeout=60)
    with open(f"/proc/{front.worker_pid()}/status") as status:
        before = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) * 1024
    with Client(front.url, timeout=60) as client:
        copied = client.copy("/remote/a/memfs/big.bin", "/remote/b/memfs/big.bin")
    assert copied == len(data)
    with open(f"/proc/{front.worker_pid()}/status") as status:
        after = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) * 1024
    assert after - before < 20 << 20, f"front server peak grew {(after - before) >> 20} MiB"
    got = httpx.get(remote_b.api + "/files", params={"path": "/memfs/big.bin"}, timeout=60)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    with httpx.stream(
        "GET",
        front.api + "/files",
        timeout=60,
        params={"path": "/remote/b/memfs/big.bin", "stream": "true"},
    ) as r:
        assert r.status_code == 200
        assert sum(len(c) for c in r.iter_bytes()) == len(data)
    httpx.delete(remote_a.api + "/files", params={"path": "/memfs/big.bin"})
    httpx.delete(remote_b.api + "/files", params={"path": "/memfs/big.bin"})


def test_reload_control_file(api, remote_a):
    """/reload reads its hint, reconnects on write, and is listed at the proxy root."""
    r = api.get("/files", params={"path": "/remote/a/reload"})
    assert r.content == b"Write to this file to reload the proxy connection\n"
    r = api.put("/files", params={"path": "/remote/a/reload"}, content=b"")
    assert r.json() == {"message": "ProxyFS reloaded successfully"}
    stat = api.get("/stat", params={"path": "/remote/a/reload"}).json()
    assert stat["mode"] == 0o200 and stat["meta"]["Type"] == "control"
    assert stat["meta"]["Content"]["remote-url"] == remote_a.url + "/api/v1"
    names = [
        f["name"] for f in api.get("/directories", params={"path": "/remote/a"}).json()["files"]
    ]
    assert "reload" in names and "memfs" in names
    assert api.get("/files", params={"path": "/remote/a/memfs/README"}).status_code == 200


def test_remote_down_is_a_clear_503(start_server):
    """A remote that stops answers 503 naming it; mounting a dead remote fails the same way."""
    remote = start_server(MEMFS)
    front = start_server(MEMFS)
    api = httpx.Client(base_url=front.api, timeout=30)
    r = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/r", "config": {"base_url": remote.url}}
    )
    assert r.status_code == 200, r.text
    remote.stop()
    r = api.get("/files", params={"path": "/r/memfs/README"})
    assert r.status_code == 503
    assert remote.url in r.json()["error"]
    r = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/dead", "config": {"base_url": remote.url}}
    )
    assert r.status_code == 503
    assert f"failed to connect to remote PFS server at {remote.url}" in r.json()["error"]
    r = api.put("/files", params={"path": "/r/reload"}, content=b"")
    assert r.status_code == 503 and r.json()["error"].startswith("reload failed:")
    api.close()


def test_hung_remote_times_out(start_server):
    """A remote that accepts connections but never answers is a 504 after `timeout`, not a hang."""
    remote = start_server(MEMFS)
    front = start_server(MEMFS)
    api = httpx.Client(base_url=front.api, timeout=30)
    r = api.post(
        "/mount",
        json={"fstype": "proxyfs", "path": "/r", "config": {"base_url": remote.url, "timeout": 1}},
    )
    assert r.status_code == 200
    remote.stop()
    with socket.socket() as silent:  # the kernel completes handshakes; nobody ever replies
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", remote.port))
        silent.listen(16)
        r = api.get("/stat", params={"path": "/r/memfs"})
        assert r.status_code == 504
        assert remote.url in r.json()["error"]
        r = api.get("/files", params={"path": "/r/memfs/README"})
        assert r.status_code == 504
    api.close()


def test_bad_config(api):
    """Missing or malformed base_url and unknown keys are 400."""
    r = api.post("/mount", json={"fstype": "proxyfs", "path": "/p", "config": {}})
    assert r.status_code == 400 and "base_url is required" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "proxyfs", "path": "/p", "config": {"base_url": "nope"}})
    assert r.status_code == 400 and "invalid base_url format" in r.json()["error"]
    r = api.post(
        "/mount",
        json={
            "fstype": "proxyfs",
            "path": "/p",
            "config": {"base_url": f"http://127.0.0.1:{free_port()}", "remote_path": "/x"},
        },
    )
    assert r.status_code == 400 and "'remote_path'" in r.json()["error"]


def test_non_utf8_name_through_proxy(api, remote_a):
    """A name with invalid UTF-8 arrives on the remote in its replacement form and reads back."""
    assert api.put("/files?path=/remote/a/memfs/bad%FF", content=b"odd").status_code == 200
    r = httpx.get(remote_a.api + "/files", params={"path": "/memfs/bad\ufffd"})
    assert r.content == b"odd"
    assert api.get("/files?path=/remote/a/memfs/bad%FF").content == b"odd"
