"""POST /touch: set a modification time natively (memfs, localfs, sqlfs), or create the file;
never by reading and rewriting, so queuefs' dequeue loses nothing."""

from __future__ import annotations

import os
import time

import pytest

from pfs.client import Client
from pfs.fs.errors import NotSupported
from pfs.testing.server import ServerProcess

#: 2020-09-13T12:26:40.123456789Z
MTIME_NS = 1_600_000_000_123_456_789


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("touch")
    (base / "local").mkdir()
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "localfs": {
                "enabled": True,
                "path": "/local",
                "config": {"local_dir": str(base / "local")},
            },
            "sqlfs": {"enabled": True, "path": "/sql", "config": {"db_path": str(base / "fs.db")}},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "kvfs": {"enabled": True, "path": "/kvfs"},
        }
    }
    with ServerProcess(config) as proc:
        proc.local_dir = base / "local"
        yield proc


def stat(api, path: str) -> dict:
    response = api.get("/stat", params={"path": path})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("mount, exact", [("/memfs", True), ("/local", True), ("/sql", False)])
def test_touch_sets_the_given_mtime_and_keeps_the_content(server, api, mount, exact):
    """An exact decimal time is stored to the nanosecond (sqlfs: to the second)."""
    path = f"{mount}/kept.txt"
    api.put("/files", params={"path": path}, content=b"content")
    response = api.post("/touch", params={"path": path, "mtime": "1600000000.123456789"})
    assert response.status_code == 200 and response.json() == {"message": "touched"}
    with Client(server.url) as client:
        got = client.stat(path).mtime_ns
        assert got == (MTIME_NS if exact else 1_600_000_000_000_000_000)
        assert client.cat(path) == b"content"
        client.touch(path)  # now
        assert client.stat(path).mtime_ns >= time.time_ns() - 10**9 * 5
        client.set_mtime(path, -1_500_000_000)  # before the epoch, exact on the wire
        assert client.stat(path).mtime_ns == (-1_500_000_000 if exact else -2_000_000_000)
        client.set_mtime(mount, MTIME_NS)  # a directory, here the mount root
        assert client.stat(mount).mtime_ns // 10**9 == 1_600_000_000
        assert client.cat(path) == b"content"


def test_localfs_touch_reaches_the_local_file(server, api):
    api.put("/files", params={"path": "/local/disk.txt"}, content=b"x")
    api.post("/touch", params={"path": "/local/disk.txt", "mtime": "1600000000.123456789"})
    assert os.stat(server.local_dir / "disk.txt").st_mtime_ns == MTIME_NS


def read_bytes_of(pid: int) -> int:
    """Bytes the process has read through read(2)-like calls (files and sockets alike)."""
    with open(f"/proc/{pid}/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar")


def test_touch_of_a_100_mib_file_reads_none_of_it(server, api):
    """The server process reads a few kilobytes (the request) while touching a 100 MiB file
    through localfs: no read-and-rewrite (AGFS reads the whole file back)."""
    size = 100 << 20
    with open(server.local_dir / "big.bin", "wb") as f:
        f.truncate(size)  # sparse: 100 MiB to read, none to write
    pid = server.worker_pid()
    before = read_bytes_of(pid)
    answer = api.post("/touch", params={"path": "/local/big.bin", "mtime": "1600000000"})
    assert answer.status_code == 200, answer.text
    assert read_bytes_of(pid) - before < 1 << 20
    assert os.stat(server.local_dir / "big.bin").st_mtime_ns == 1_600_000_000 * 10**9
    assert os.stat(server.local_dir / "big.bin").st_size == size
    # The measure works: reading the file does show up.
    before = read_bytes_of(pid)
    api.get("/files", params={"path": "/local/big.bin", "size": str(8 << 20)})
    assert read_bytes_of(pid) - before >= 8 << 20


@pytest.mark.parametrize("mount", ["/memfs", "/local", "/sql"])
def test_touch_creates_a_missing_file(server, api, mount):
    assert api.post("/touch", params={"path": f"{mount}/new"}).status_code == 200
    assert stat(api, f"{mount}/new")["size"] == 0
    response = api.post("/touch", params={"path": f"{mount}/dated", "mtime": "1600000000"})
    assert response.status_code == 200
    assert stat(api, f"{mount}/dated")["modTime"].startswith("2020-09-13T12:26:40")


def test_bad_input_is_refused_and_changes_nothing(api):
    api.put("/files", params={"path": "/memfs/same"}, content=b"same")
    before = stat(api, "/memfs/same")["modTime"]
    for raw in ("soon", "nan", "inf", "1e30", "0x10"):
        response = api.post("/touch", params={"path": "/memfs/same", "mtime": raw})
        assert response.status_code == 400, raw
        assert "invalid mtime parameter" in response.json()["error"]
    assert stat(api, "/memfs/same")["modTime"] == before
    assert api.post("/touch", params={"path": "/memfs/nope", "mtime": "x"}).status_code == 400
    assert api.get("/stat", params={"path": "/memfs/nope"}).status_code == 404
    assert api.post("/touch").status_code == 400
    assert api.get("/touch", params={"path": "/memfs/same"}).status_code == 405
    assert api.post("/touch", params={"path": "/nomount/x"}).status_code == 404


def test_touch_never_reads_dequeue_and_plugins_without_times_answer_501(server, api):
    """queuefs stores no times: touching dequeue is a 501 and the message stays queued; a new
    file with a time that cannot be stored is not left behind."""
    api.put("/files", params={"path": "/queuefs/q/enqueue"}, content=b"keep me")
    response = api.post("/touch", params={"path": "/queuefs/q/dequeue"})
    assert response.status_code == 501, response.text
    assert api.get("/files", params={"path": "/queuefs/q/size"}).content == b"1"
    api.put("/files", params={"path": "/kvfs/keys/k"}, content=b"v")
    assert api.post("/touch", params={"path": "/kvfs/keys/k"}).status_code == 501
    response = api.post("/touch", params={"path": "/kvfs/keys/dated", "mtime": "1600000000"})
    assert response.status_code == 501
    assert api.get("/stat", params={"path": "/kvfs/keys/dated"}).status_code == 404
    with Client(server.url) as client, pytest.raises(NotSupported):
        client.set_mtime("/queuefs/q/dequeue", MTIME_NS)
