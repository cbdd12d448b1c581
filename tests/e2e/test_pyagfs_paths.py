"""AGFS's own Python SDK (pyagfs 1.4) on the path endpoints: touch of an existing file (a 500
in AGFS), listings and stat of symlinks as its clients read them (``meta.Type``), writes and
reads through links, and the routes its newer clients and the Go SDK send (``/truncate``,
``/symlink``, ``/readlink``, ``/write``, ``/mkdir``, ``/list``) on pyagfs's own session."""

from __future__ import annotations

import pytest
from pyagfs import AGFSClient
from pyagfs.exceptions import AGFSClientError

from pfs.testing.server import ServerProcess

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queue", "config": {"backend": "memory"}},
    }
}


@pytest.fixture(scope="module")
def agfs():
    with ServerProcess(CONFIG) as srv:
        client = AGFSClient(srv.url)
        yield client
        client.session.close()


def test_touch_of_an_existing_file_keeps_it_and_of_a_queue_takes_nothing(agfs):
    agfs.write("/memfs/t.txt", b"content")
    before = agfs.stat("/memfs/t.txt")["modTime"]
    assert agfs.touch("/memfs/t.txt") == {"message": "touched"}
    assert agfs.cat("/memfs/t.txt") == b"content"
    assert agfs.stat("/memfs/t.txt")["modTime"] >= before
    agfs.write("/queue/jobs/enqueue", b"job")
    with pytest.raises(AGFSClientError):  # queuefs stores no times: 501, nothing dequeued
        agfs.touch("/queue/jobs/dequeue")
    assert agfs.cat("/queue/jobs/size") == b"1"


def test_symlinks_as_agfs_clients_see_them(agfs):
    session, api = agfs.session, agfs.api_base
    agfs.mkdir("/memfs/dir")
    agfs.write("/memfs/dir/f", b"target bytes")
    made = session.post(f"{api}/symlink", params={"path": "/memfs/link"},
                        json={"target": "/memfs/dir"})
    assert made.status_code == 201 and made.json() == {"message": "symlink created"}
    entry = {e["name"]: e for e in agfs.ls("/memfs")}["link"]
    assert entry["meta"]["Type"] == "symlink" and entry["isDir"] is True
    assert session.get(f"{api}/readlink", params={"path": "/memfs/link"}).json() == {
        "target": "/memfs/dir"
    }
    assert agfs.stat("/memfs/link")["meta"]["Type"] == "symlink"
    assert agfs.cat("/memfs/link/f") == b"target bytes"
    agfs.write("/memfs/link/f", b"written through")
    assert agfs.cat("/memfs/dir/f") == b"written through"
    agfs.rm("/memfs/link")
    assert agfs.cat("/memfs/dir/f") == b"written through"
    with pytest.raises(AGFSClientError, match="no such file or directory"):
        agfs.stat("/memfs/link")


def test_truncate_and_the_aliases_on_its_session(agfs):
    session, api = agfs.session, agfs.api_base
    agfs.write("/memfs/cut", b"0123456789")
    answer = session.post(f"{api}/truncate", params={"path": "/memfs/cut", "size": 3})
    assert answer.status_code == 200 and answer.json() == {"message": "truncated"}
    assert agfs.cat("/memfs/cut") == b"012"
    written = session.post(f"{api}/write", params={"path": "/memfs/w"}, json={"data": "text"})
    assert written.status_code == 200 and agfs.cat("/memfs/w") == b"text"
    assert session.post(f"{api}/mkdir", params={"path": "/memfs/m"}).status_code == 201
    listed = session.get(f"{api}/list", params={"path": "/memfs/m"})
    assert listed.status_code == 200 and listed.json() == {"files": None}
    root = session.get(api.rsplit("/api/v1", 1)[0] + "/")
    assert root.json()["status"] == "running"
