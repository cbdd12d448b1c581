"""POST /api/v1/copy (issue 15 item 5): server-side copy of files and trees within and across
mounts, streamed (a 200 MiB copy leaves the server's memory flat), never reading a file whose
read has an effect; the SDK's copy uses it and falls back where a server lacks it."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from pfs.client import AsyncClient, Client, IsADirectory
from pfs.testing.server import ServerProcess

MiB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("copy")
    for name in ("a", "b"):
        (base / name).mkdir()
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "localfs": [
                {"name": "a", "enabled": True, "path": "/a",
                 "config": {"local_dir": str(base / "a")}},
                {"name": "b", "enabled": True, "path": "/b",
                 "config": {"local_dir": str(base / "b")}},
            ],
            "queuefs": {"enabled": True, "path": "/queue"},
            "sqlfs": {"enabled": True, "path": "/sql",
                      "config": {"db_path": str(base / "sql.db")}},
        }
    }
    with ServerProcess(config) as proc:
        proc.base = base
        yield proc


def copy(api, path: str, new_path: str, **extra) -> httpx.Response:
    return api.post("/copy", json={"path": path, "newPath": new_path, **extra})


def read(api, path: str) -> bytes:
    answer = api.get("/files", params={"path": path})
    assert answer.status_code == 200, answer.text
    return answer.content


@pytest.mark.parametrize("target", ["/memfs/copy.bin", "/b/copy.bin", "/sql/copy.bin"])
def test_a_file_is_copied_within_and_across_mounts(api, target):
    body = os.urandom(300_000)
    api.put("/files", params={"path": "/memfs/src.bin"}, content=body)
    answer = copy(api, "/memfs/src.bin", target)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "copied", "files": 1, "bytes": len(body),
                             "skipped": [], "skippedCount": 0}
    assert read(api, target) == body
    # A file at the target is replaced, as cp does.
    api.put("/files", params={"path": "/memfs/src.bin"}, content=b"shorter")
    assert copy(api, "/memfs/src.bin", target).status_code == 200
    assert read(api, target) == b"shorter"


def test_a_tree_is_copied_with_recursive_and_effectful_files_are_skipped(api):
    for path in ("/memfs/tree", "/memfs/tree/sub"):
        api.post("/directories", params={"path": path})
    api.put("/files", params={"path": "/memfs/tree/one"}, content=b"1")
    api.put("/files", params={"path": "/memfs/tree/sub/two"}, content=b"22")
    refused = copy(api, "/memfs/tree", "/a/tree")
    assert refused.status_code == 400 and "recursive" in refused.json()["error"]
    answer = copy(api, "/memfs/tree", "/a/tree", recursive=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["files"] == 2 and answer.json()["bytes"] == 3
    assert read(api, "/a/tree/sub/two") == b"22"
    # Into itself: refused.
    inside = copy(api, "/memfs/tree", "/memfs/tree/sub/again", recursive=True)
    assert inside.status_code == 400 and "inside the source" in inside.json()["error"]
    # A queue's tree: its messages are never taken, the control files are skipped and named.
    api.post("/directories", params={"path": "/queue/jobs"})
    api.put("/files", params={"path": "/queue/jobs/enqueue"}, content=b"job")
    answer = copy(api, "/queue/jobs", "/memfs/jobs", recursive=True)
    assert answer.status_code == 200, answer.text
    assert "/queue/jobs/dequeue" in answer.json()["skipped"]
    assert "/queue/jobs/enqueue" in answer.json()["skipped"]
    assert read(api, "/queue/jobs/size").strip() == b"1"


def test_bad_copies_get_clear_errors_and_change_nothing(api):
    api.put("/files", params={"path": "/memfs/keep.txt"}, content=b"keep")
    api.post("/directories", params={"path": "/memfs/adir"})
    cases = [
        (copy(api, "/memfs/none", "/memfs/x"), 404, "no such file"),
        (copy(api, "/memfs/keep.txt", "/memfs/no/parent/x"), 404, ""),
        (copy(api, "/memfs/keep.txt", "/memfs/keep.txt"), 400, "the same"),
        (copy(api, "/memfs/keep.txt", "/memfs/adir"), 409, "a directory is there"),
        (copy(api, "/queue/jobs/dequeue", "/memfs/msg"), 400, "/queue/jobs/dequeue"),
        (api.post("/copy", json={"path": "/memfs/keep.txt"}), 400, "newPath is required"),
        (api.post("/copy", content=b"[1]"), 400, "invalid request body"),
        (api.get("/copy"), 405, "method not allowed"),
    ]
    for answer, status, words in cases:
        assert answer.status_code == status, answer.text
        assert words in answer.json()["error"]
    assert read(api, "/memfs/keep.txt") == b"keep"
    assert api.get("/stat", params={"path": "/memfs/msg"}).status_code == 404
    assert api.get("/copy").headers["allow"] == "POST"


def test_200_mib_cross_mount_copy_streams_with_server_memory_bounded(server, api):
    source = server.base / "a" / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as out:
        for _ in range(200):
            piece = os.urandom(MiB)
            digest.update(piece)
            out.write(piece)
    before = server.rss_bytes()
    answer = api.post("/copy", json={"path": "/a/big.bin", "newPath": "/b/big.bin"},
                      timeout=300)
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == 200 * MiB
    peak = _peak_rss(server)
    copied = hashlib.sha256()
    with open(server.base / "b" / "big.bin", "rb") as written:
        while piece := written.read(MiB):
            copied.update(piece)
    assert copied.hexdigest() == digest.hexdigest()
    # One piece in flight at a time: far below the 200 MiB a buffered copy would hold.
    assert peak - before < 48 * MiB, (before, peak)


def _peak_rss(server: ServerProcess) -> int:
    with open(f"/proc/{server.worker_pid()}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class WithoutCopy(httpx.HTTPTransport):
    """The real server as an older one (or the original Go server) answers: no /copy route."""

    def __init__(self) -> None:
        super().__init__()
        self.copies = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/copy"):
            self.copies += 1
            return httpx.Response(404, content=b"404 page not found\n")
        return super().handle_request(request)


def test_sdk_copy_runs_on_the_server_and_falls_back_without_the_endpoint(server, api):
    api.post("/directories", params={"path": "/memfs/sdk"})
    api.put("/files", params={"path": "/memfs/sdk/f"}, content=b"sdk bytes")
    seen = []
    with Client(server.url) as client:
        copied = client.copy("/memfs/sdk", "/b/new/parents/sdk", recursive=True,
                             progress=lambda name, done, total: seen.append((done, total)))
        assert copied == 9 and seen == [(9, 9)]
        assert client.cat("/b/new/parents/sdk/f") == b"sdk bytes"
        with pytest.raises(IsADirectory):
            client.copy("/memfs/sdk", "/b/x")
    transport = WithoutCopy()
    with Client(server.url, transport=transport) as old:
        assert old.copy("/memfs/sdk", "/a/piped", recursive=True) == 9
        assert old.cat("/a/piped/f") == b"sdk bytes"
        assert transport.copies == 1  # asked once, then piped through the client


async def test_async_sdk_copy_runs_on_the_server(server, api):
    api.put("/files", params={"path": "/memfs/async.txt"}, content=b"async")
    async with AsyncClient(server.url) as client:
        assert await client.copy("/memfs/async.txt", "/sql/async.txt") == 5
        assert await client.cat("/sql/async.txt") == b"async"
