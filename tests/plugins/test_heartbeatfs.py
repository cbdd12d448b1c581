"""heartbeatfs through the real server (items, keepalive by write and by touch, ctl, expiry),
and the conformance suite in process."""

from __future__ import annotations

import time

import httpx
import pytest

from pfs.fs import NotFound, validate_config
from pfs.plugins.heartbeatfs import HeartbeatFS
from pfs.testing.contract import ContractFixtures, DirectoryTests, ErrorTests, ReadOnlyTests
from pfs.testing.fixtures import server_fixture

server = server_fixture({"plugins": {"heartbeatfs": {
    "enabled": True, "path": "/hb", "config": {"default_timeout": "10m"}}}})


def ctl(api: httpx.Client, item: str) -> dict[str, str]:
    text = api.get("/files", params={"path": f"/hb/{item}/ctl"}).text
    return dict(line.split(": ", 1) for line in text.splitlines())


def gone(api: httpx.Client, item: str, attempts: int = 400) -> bool:
    """Whether ``item`` disappears within a bounded number of looks."""
    for _ in range(attempts):
        if api.get("/stat", params={"path": f"/hb/{item}"}).status_code == 404:
            return True
        time.sleep(0.05)
    return False


def test_item_lifecycle(api):
    assert api.post("/directories", params={"path": "/hb/w1"}).status_code == 201
    listed = [f["name"] for f in api.get("/directories", params={"path": "/hb"}).json()["files"]]
    assert listed[0] == "README" and "w1" in listed
    files = api.get("/directories", params={"path": "/hb/w1"}).json()["files"]
    assert [(f["name"], f["meta"]["Type"]) for f in files] == [
        ("keepalive", "keepalive"), ("ctl", "control")]
    status = ctl(api, "w1")
    assert status["timeout"] == "600" and status["status"] == "alive"
    assert set(status) == {"last_heartbeat_ts", "expire_ts", "timeout", "status"}
    r = api.post("/directories", params={"path": "/hb/w1"})
    assert r.status_code == 409 and "already exists" in r.json()["error"]
    assert api.delete("/files", params={"path": "/hb/w1/ctl"}).status_code == 200  # the item
    assert api.get("/stat", params={"path": "/hb/w1"}).status_code == 404


def test_keepalive_by_write_and_by_native_touch(api):
    api.post("/directories", params={"path": "/hb/w2"})
    before = api.get("/stat", params={"path": "/hb/w2/keepalive"}).json()["modTime"]
    assert api.put("/files", params={"path": "/hb/w2/keepalive"}, content=b"").status_code == 200
    # touch with an explicit time sets the last heartbeat to it: the keepalive shows it.
    r = api.post("/touch", params={"path": "/hb/w2/keepalive", "mtime": "4000000000"})
    assert r.status_code == 200, r.text
    after = api.get("/stat", params={"path": "/hb/w2/keepalive"}).json()["modTime"]
    assert after != before and after.startswith("2096-")
    r = api.post("/touch", params={"path": "/hb/w2/ctl"})
    assert r.status_code == 501
    api.delete("/files", params={"path": "/hb/w2", "recursive": "true"})


def test_timeout_expires_the_item(api):
    api.post("/directories", params={"path": "/hb/short"})
    r = api.put("/files", params={"path": "/hb/short/ctl"}, content=b"timeout=1\n")
    assert r.status_code == 200
    assert ctl(api, "short")["timeout"] == "1"
    assert gone(api, "short")
    listed = [f["name"] for f in api.get("/directories", params={"path": "/hb"}).json()["files"]]
    assert "short" not in listed
    r = api.get("/files", params={"path": "/hb/short/ctl"})
    assert r.status_code == 404 and "/hb/short/ctl" in r.json()["error"]


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("/hb/bad/ctl", b"timeout=0", 400, "must be positive"),
    ("/hb/bad/ctl", b"speed=3", 400, "timeout=N"),
    ("/hb/bad/ctl", b"timeout=x", 400, "timeout=N"),
    ("/hb/bad", b"x", 400, "keepalive or ctl"),
    ("/hb/bad/other", b"x", 404, "/hb/bad/other"),
    ("/hb/README", b"x", 400, "keepalive or ctl"),
    ("/hb/none/ctl", b"timeout=5", 404, "/hb/none/ctl"),
])
def test_bad_writes_change_nothing(api, path, body, status, words):
    api.post("/directories", params={"path": "/hb/bad"})
    r = api.put("/files", params={"path": path}, content=body)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert ctl(api, "bad")["timeout"] == "600"


@pytest.mark.parametrize(("call", "status"), [
    (lambda api: api.post("/directories", params={"path": "/hb/README"}), 400),
    (lambda api: api.post("/directories", params={"path": "/hb/x/y"}), 400),
    (lambda api: api.post("/files", params={"path": "/hb/newfile"}), 400),
    (lambda api: api.post("/rename", params={"path": "/hb/bad"}, json={"newPath": "/hb/b2"}),
     501),
    (lambda api: api.post("/chmod", params={"path": "/hb/bad"}, json={"mode": 0o700}), 501),
])
def test_refused_operations(api, call, status):
    api.post("/directories", params={"path": "/hb/bad"})
    r = call(api)
    assert r.status_code == status, r.text
    assert api.get("/stat", params={"path": "/hb/bad"}).json()["isDir"]
    assert api.get("/stat", params={"path": "/hb/b2"}).status_code == 404


def test_bad_default_timeout_refused(api):
    r = api.post("/mount", json={"fstype": "heartbeatfs", "path": "/hb2",
                                 "config": {"default_timeout": "soon"}})
    assert r.status_code == 400 and "default_timeout" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "heartbeatfs", "path": "/hb2",
                                 "config": {"default_timeout": -1}})
    assert r.status_code == 400


async def test_sweep_frees_expired_items():
    fs = HeartbeatFS(validate_config("heartbeatfs", HeartbeatFS.config_schema,
                                     {"default_timeout": 0.05}))
    await fs.start()
    try:
        await fs.mkdir("/a")
        for _ in range(100):
            if "a" not in fs.items:
                break
            await __import__("asyncio").sleep(0.05)
        assert "a" not in fs.items
        with pytest.raises(NotFound):
            await fs.stat("/a")
    finally:
        await fs.shutdown()


class HeartbeatFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self):
        fs = HeartbeatFS(validate_config("heartbeatfs", HeartbeatFS.config_schema, {}))
        await fs.start()
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def writable(self) -> bool:
        return False  # files are fixed per item; writes are heartbeats and commands

    @pytest.fixture
    def sample(self, fs) -> tuple[str, bytes]:
        return "/README", fs.readme


class TestHeartbeatReadOnly(ReadOnlyTests, HeartbeatFixtures):
    pass


class TestHeartbeatErrors(ErrorTests, HeartbeatFixtures):
    pass


class TestHeartbeatDirectories(DirectoryTests, HeartbeatFixtures):
    test_mkdir_list_remove = None  # items hold only keepalive and ctl; no files to add
