"""Client-side walkers (SDK download/copy of trees, fsspec find/du/walk/get/cat) never read a
file whose read has an effect: a queue holding messages keeps them all, a live stream is not
followed, and write-only control files (``enqueue``) do not stop the walk."""

from __future__ import annotations

import uuid

import fsspec
import pytest

from pfs.client import AsyncClient, Client
from pfs.fsspec import PFSFileSystem
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

#: What a walker may read in a queue's directory: the rest consume (dequeue) or are write-only.
QUEUE_READABLE = {"peek", "size", "visibility_timeout"}


@pytest.fixture
def queue(api):
    """A queue holding two messages and a live stream beside it; both removed afterwards."""
    name = f"w{uuid.uuid4().hex[:8]}"
    path = f"/queuefs/{name}"
    assert api.post("/directories", params={"path": path}).status_code == 201
    for message in (b"first", b"second"):
        api.put("/files", params={"path": f"{path}/enqueue"}, content=message)
    api.put("/files", params={"path": f"/streamfs/{name}"}, content=b"live data")
    yield path
    api.delete("/files", params={"path": path, "recursive": "true"})
    api.delete("/files", params={"path": f"/streamfs/{name}"})


def queue_size(api, queue: str) -> int:
    return int(api.get("/files", params={"path": f"{queue}/size"}).text)


@pytest.fixture
def client(server):
    # A walker that followed a live stream would stall: fail in seconds, not hang a minute.
    with Client(server.url, stall_timeout=3) as c:
        yield c


def test_download_of_the_whole_server_consumes_nothing(client, api, queue, tmp_path):
    got = client.download("/", tmp_path / "all", recursive=True)
    local_queue = tmp_path / "all" / queue.lstrip("/")
    assert {p.name for p in local_queue.iterdir()} == QUEUE_READABLE
    assert (local_queue / "size").read_text() == "2"
    assert b'"data":"first"' in (local_queue / "peek").read_bytes().replace(b" ", b"")
    assert (tmp_path / "all" / "streamfs" / "README").exists()
    assert not (tmp_path / "all" / "streamfs" / queue.rsplit("/", 1)[1]).exists()
    assert got > 0
    assert queue_size(api, queue) == 2


def test_copy_of_a_queue_tree_consumes_nothing(client, api, queue):
    backup = f"/memfs/backup-{uuid.uuid4().hex[:8]}"
    client.copy("/queuefs", backup, recursive=True)
    copied = {e.name for e in client.ls(backup + "/" + queue.rsplit("/", 1)[1])}
    assert copied == QUEUE_READABLE
    client.copy("/streamfs", backup + "/streams", recursive=True)
    assert {e.name for e in client.ls(backup + "/streams")} == {"README"}
    assert queue_size(api, queue) == 2
    client.rm(backup, recursive=True)


async def test_async_download_and_copy_consume_nothing(server, api, queue, tmp_path):
    async with AsyncClient(server.url, stall_timeout=3) as aclient:
        await aclient.download(queue, tmp_path / "q", recursive=True)
        backup = f"/memfs/abackup-{uuid.uuid4().hex[:8]}"
        await aclient.copy(queue, backup, recursive=True)
        assert {e.name for e in await aclient.ls(backup)} == QUEUE_READABLE
        await aclient.rm(backup, recursive=True)
    assert {p.name for p in (tmp_path / "q").iterdir()} == QUEUE_READABLE
    assert queue_size(api, queue) == 2


@pytest.fixture
def pfs(server):
    PFSFileSystem.clear_instance_cache()
    return fsspec.filesystem("pfs", host=f"127.0.0.1:{server.port}")


def test_fsspec_tree_operations_leave_out_effect_files(pfs, api, queue, tmp_path):
    name = queue.rsplit("/", 1)[1]
    found = pfs.find("/queuefs")
    assert {path.rsplit("/", 1)[1] for path in found if name in path} == QUEUE_READABLE
    assert f"/streamfs/{name}" not in pfs.find("/streamfs")
    walked = {file for _, _, files in pfs.walk(queue) for file in files}
    assert walked == QUEUE_READABLE
    assert set(pfs.du(queue, total=False)) == {f"{queue}/{n}" for n in QUEUE_READABLE}
    assert pfs.glob(f"{queue}/*eue") == []  # dequeue and (write-only) enqueue
    # Reading every file of the tree: fsspec's recursive cat and get read what find lists.
    texts = pfs.cat(queue, recursive=True, on_error="omit")
    assert set(texts) == {f"{queue}/{n}" for n in QUEUE_READABLE}
    pfs.get(queue, str(tmp_path / "got"), recursive=True)
    assert {p.name for p in (tmp_path / "got").iterdir()} == QUEUE_READABLE
    # Listing a directory still shows everything, with the effect named.
    listed = {e["name"].rsplit("/", 1)[1]: e for e in pfs.ls(queue)}
    assert listed["dequeue"]["read_effect"] == "consumes"
    assert "read_effect" not in listed["peek"]
    assert queue_size(api, queue) == 2
