"""POST /truncate: shrink or zero-extend a file in every plugin that stores bytes, a no-op in
those whose files are not byte sequences, 501 elsewhere; each bad request a clear 400."""

from __future__ import annotations

import os
import uuid

import pytest

from pfs.testing.moto import MotoServer
from pfs.testing.server import ServerProcess


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, moto):
    base = tmp_path_factory.mktemp("truncate")
    (base / "local").mkdir()
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs", "config": {"max_file_size": "1MB"}},
            "localfs": {
                "enabled": True,
                "path": "/local",
                "config": {"local_dir": str(base / "local")},
            },
            "kvfs": {"enabled": True, "path": "/kvfs", "config": {"max_value_size": "1MB"}},
            "sqlfs": {
                "enabled": True,
                "path": "/sql",
                "config": {"db_path": str(base / "fs.db"), "max_file_size": "8MB"},
            },
            "s3fs": {"enabled": True, "path": "/s3", "config": moto.mount_config(bucket)},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "streamfs": {"enabled": True, "path": "/streamfs"},
            "hellofs": {"enabled": True, "path": "/hellofs"},
            "serverinfofs": {"enabled": True, "path": "/serverinfofs"},
        }
    }
    with ServerProcess(config) as proc:
        proc.local_dir = base / "local"
        yield proc


FILE_MOUNTS = [("/memfs", "f"), ("/local", "f"), ("/kvfs", "keys/f"), ("/sql", "f"), ("/s3", "f")]


def truncate(api, path: str, size) -> object:
    return api.post("/truncate", params={"path": path, "size": size})


def content(api, path: str) -> bytes:
    response = api.get("/files", params={"path": path})
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("mount, name", FILE_MOUNTS)
def test_truncate_shrinks_and_zero_extends(api, mount, name):
    path = f"{mount}/{name}"
    assert api.put("/files", params={"path": path}, content=b"hello world").status_code == 200
    response = truncate(api, path, 5)
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "truncated"}
    assert content(api, path) == b"hello"
    assert truncate(api, path, 8).status_code == 200
    assert content(api, path) == b"hello\0\0\0"
    assert api.get("/stat", params={"path": path}).json()["size"] == 8
    assert truncate(api, path, 0).status_code == 200
    assert content(api, path) == b""


@pytest.mark.parametrize("mount", ["/sql", "/s3"])
def test_truncate_of_a_chunked_file_keeps_its_head(api, mount):
    """sqlfs and s3fs rewrite the kept bytes as a stream (sqlfs: over its 1 MiB chunks)."""
    path = f"{mount}/big"
    body = os.urandom(3 << 20)
    assert api.put("/files", params={"path": path}, content=body).status_code == 200
    assert truncate(api, path, (2 << 20) + 7).status_code == 200
    assert content(api, path) == body[: (2 << 20) + 7]
    assert truncate(api, path, (4 << 20)).status_code == 200
    assert content(api, path) == body[: (2 << 20) + 7] + bytes((2 << 20) - 7)


def test_localfs_truncate_reaches_the_local_file(server, api):
    api.put("/files", params={"path": "/local/disk"}, content=b"0123456789")
    assert truncate(api, "/local/disk", 3).status_code == 200
    assert (server.local_dir / "disk").read_bytes() == b"012"


@pytest.mark.parametrize(
    "path, limit",
    [("/memfs/f", "max_file_size"), ("/kvfs/keys/f", "max_value_size"),
     ("/sql/f", "maximum limit of 8MB")],
)
def test_truncate_past_the_size_limit_is_413_naming_it_and_changes_nothing(api, path, limit):
    api.put("/files", params={"path": path}, content=b"kept")
    response = truncate(api, path, 1 << 30)
    assert response.status_code == 413, response.text
    assert limit in response.json()["error"]
    assert content(api, path) == b"kept"


def test_s3_truncate_past_the_largest_upload_is_413(api):
    api.put("/files", params={"path": "/s3/f"}, content=b"kept")
    response = truncate(api, "/s3/f", 6 << 40)
    assert response.status_code == 413 and "part_size" in response.json()["error"]
    assert content(api, "/s3/f") == b"kept"


@pytest.mark.parametrize("mount, name", FILE_MOUNTS)
def test_truncate_of_a_missing_file_is_404(api, mount, name):
    response = truncate(api, f"{mount}/{name}-missing", 0)
    assert response.status_code == 404, response.text
    assert f"{mount}/{name}-missing" in response.json()["error"]


@pytest.mark.parametrize("path", ["/memfs", "/local", "/sql", "/kvfs/keys"])
def test_truncate_of_a_directory_is_400(api, path):
    api.post("/directories", params={"path": f"{path}/d"})
    target = path if path == "/kvfs/keys" else f"{path}/d"
    response = truncate(api, target, 0)
    assert response.status_code == 400, response.text
    assert "is a directory" in response.json()["error"]


@pytest.mark.parametrize(
    "path", ["/queuefs/jobs/enqueue", "/streamfs/live", "/hellofs/hello", "/serverinfofs/version"]
)
def test_truncate_is_a_no_op_where_files_are_not_byte_sequences(api, path):
    """A shell's ``>`` truncates before writing: it must work, and change nothing."""
    if path.startswith("/streamfs"):
        api.put("/files", params={"path": path}, content=b"frame")
    before = api.get("/stat", params={"path": path}).json()
    response = truncate(api, path, 0)
    assert response.status_code == 200, response.text
    assert api.get("/stat", params={"path": path}).json()["size"] == before["size"]


def test_truncate_never_touches_a_queue(api):
    api.put("/files", params={"path": "/queuefs/q/enqueue"}, content=b"message")
    for name in ("enqueue", "dequeue", "peek"):
        assert truncate(api, f"/queuefs/q/{name}", 0).status_code == 200
    assert content(api, "/queuefs/q/size") == b"1"
    assert truncate(api, "/hellofs/nope", 0).status_code == 404
    assert truncate(api, "/streamfs/never-written", 0).status_code == 200
    assert api.get("/stat", params={"path": "/streamfs/never-written"}).status_code == 404


def test_truncate_unsupported_by_the_plugin_is_501(server, api):
    """proxyfs has no truncate (yet): 501, which clients treat as an error like AGFS's 500."""
    mounted = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/proxy", "config": {"base_url": server.url}}
    )
    assert mounted.status_code == 200, mounted.text
    try:
        response = truncate(api, "/proxy/memfs/f", 0)
        assert response.status_code == 501, response.text
        error = response.json()["error"]
        assert error.startswith("/proxy/memfs/f: truncate:") and "not supported" in error
    finally:
        api.post("/unmount", json={"path": "/proxy"})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"size": "1"}, "path parameter is required"),
        ({"path": "/memfs/f"}, "size parameter is required"),
        ({"path": "/memfs/f", "size": ""}, "size parameter is required"),
        ({"path": "/memfs/f", "size": "ten"}, "invalid size parameter"),
        ({"path": "/memfs/f", "size": "1.5"}, "invalid size parameter"),
        ({"path": "/memfs/f", "size": "-1"}, "size must be non-negative"),
        ({"path": "/memfs/f", "size": "9" * 30}, "out of range"),
    ],
)
def test_bad_truncate_requests_are_400_and_change_nothing(api, params, message):
    api.put("/files", params={"path": "/memfs/f"}, content=b"kept")
    response = api.post("/truncate", params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert content(api, "/memfs/f") == b"kept"


def test_truncate_outside_every_mount_is_404_and_in_a_read_only_mount_403(api):
    assert truncate(api, "/nowhere/f", 0).status_code == 404
    read_only = {"fstype": "memfs", "path": "/ro", "config": {"read_only": True}}
    mounted = api.post("/mount", json=read_only)
    assert mounted.status_code == 200, mounted.text
    try:
        response = truncate(api, "/ro/README", 0)
        assert response.status_code == 403, response.text
        assert content(api, "/ro/README")
    finally:
        api.post("/unmount", json={"path": "/ro"})


def test_truncate_needs_post(api):
    assert api.get("/truncate", params={"path": "/memfs/f", "size": 0}).status_code == 405
