"""Errors say what happened, where: the full path the client sent, one wording per kind across
plugins, and the right status for failures that used to be 500s."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from pfs.testing.moto import MotoServer

MISSING = [
    ("memfs", {}),
    ("kvfs", {}),
    ("sqlfs", {"backend": "sqlite"}),
    ("localfs", {}),
]


@pytest.fixture
def mounted(api: httpx.Client, tmp_path):
    """Mounts one plugin at a fresh path; yields a function (fstype, config) -> mount path."""
    paths: list[str] = []

    def mount(fstype: str, config: dict) -> str:
        path = f"/err-{fstype}-{uuid.uuid4().hex[:6]}"
        config = dict(config)
        if fstype == "sqlfs":
            config["db_path"] = str(tmp_path / f"{fstype}.db")
        if fstype == "localfs":
            local = tmp_path / "local"
            local.mkdir(exist_ok=True)
            config["local_dir"] = str(local)
        r = api.post("/mount", json={"fstype": fstype, "path": path, "config": config})
        assert r.status_code == 200, r.text
        paths.append(path)
        return path

    yield mount
    for path in paths:
        api.post("/unmount", json={"path": path})


@pytest.mark.parametrize(("fstype", "config"), MISSING, ids=[m[0] for m in MISSING])
def test_not_found_names_the_full_path_in_one_wording(api, mounted, fstype, config):
    root = mounted(fstype, config)
    leaf = "keys/nope" if fstype == "kvfs" else "nope"
    r = api.get("/files", params={"path": f"{root}/{leaf}"})
    assert r.status_code == 404
    assert r.json()["error"] == f"no such file or directory: {root}/{leaf}"
    r = api.get("/stat", params={"path": f"{root}/{leaf}"})
    assert r.json()["error"] == f"no such file or directory: {root}/{leaf}"


@pytest.mark.parametrize(
    ("fstype", "config"), [m for m in MISSING if m[0] != "kvfs"], ids=["memfs", "sqlfs", "localfs"]
)
def test_exists_and_not_empty_read_alike(api, mounted, fstype, config):
    root = mounted(fstype, config)
    assert api.post("/directories", params={"path": f"{root}/d"}).status_code == 201
    assert api.put("/files", params={"path": f"{root}/d/f"}, content=b"x").status_code == 200
    r = api.post("/directories", params={"path": f"{root}/d"})
    assert (r.status_code, r.json()["error"]) == (409, f"file already exists: {root}/d")
    r = api.delete("/directories", params={"path": f"{root}/d"})
    assert (r.status_code, r.json()["error"]) == (409, f"directory not empty: {root}/d")
    r = api.put("/files", params={"path": f"{root}/missing/f"}, content=b"x")
    assert (r.status_code, r.json()["error"]) == (
        404,
        f"no such file or directory: {root}/missing/f",
    )


def test_explanations_keep_their_detail_after_the_full_path(api, start_server):
    server = start_server({"plugins": {"queuefs": {"enabled": True, "path": "/queuefs"}}})
    with httpx.Client(base_url=server.api, timeout=30) as client:
        client.put("/files", params={"path": "/queuefs/q/enqueue"}, content=b"m")
        r = client.get("/files", params={"path": "/queuefs/q/enqueue"})
        assert r.status_code == 403
        assert r.json()["error"].startswith("/queuefs/q/enqueue: ")
        r = client.put("/files", params={"path": "/queuefs/q/ack"}, content=b"12345")
        assert r.status_code == 404
        assert "message not in flight: 12345" in r.json()["error"]


def test_shell_prints_the_full_path(server):
    proc = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "pfs"),
            "--server",
            server.url,
            "cat",
            "/memfs/nope-shell",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "pfs cat: no such file or directory: /memfs/nope-shell"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (root only, as in CI)."""
    where = tmp_path / "tiny"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_localfs_out_of_space_is_507(api, tiny_disk):
    path = f"/tiny-{uuid.uuid4().hex[:6]}"
    r = api.post(
        "/mount", json={"fstype": "localfs", "path": path, "config": {"local_dir": str(tiny_disk)}}
    )
    assert r.status_code == 200, r.text
    try:
        api.put("/files", params={"path": f"{path}/keep"}, content=b"old")
        r = api.put("/files", params={"path": f"{path}/big"}, content=os.urandom(2 << 20))
        assert r.status_code == 507, r.text
        assert "no space left" in r.json()["error"] and f"{path}/big" in r.json()["error"]
        r = api.put(
            "/files",
            params={"path": f"{path}/keep", "flags": "append"},
            content=os.urandom(2 << 20),
        )
        assert r.status_code == 507, r.text
        assert api.get("/files", params={"path": f"{path}/keep"}).content == b"old"
    finally:
        api.post("/unmount", json={"path": path})


def test_localfs_append_to_a_fifo_is_refused(api, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    path = f"/fifo-{uuid.uuid4().hex[:6]}"
    r = api.post(
        "/mount", json={"fstype": "localfs", "path": path, "config": {"local_dir": str(tmp_path)}}
    )
    assert r.status_code == 200, r.text
    try:
        for params in ({"flags": "append"}, {"offset": "3"}, {}):
            r = api.put("/files", params={"path": f"{path}/pipe", **params}, content=b"data")
            assert r.status_code == 403, (params, r.text)
            assert "not a regular file" in r.json()["error"]
        assert api.get("/health").status_code == 200
    finally:
        api.post("/unmount", json={"path": path})


def test_s3_key_over_the_limit_is_400(api):
    with MotoServer() as moto:
        bucket = f"b-{uuid.uuid4().hex[:12]}"
        moto.client().create_bucket(Bucket=bucket)
        path = f"/s3-{bucket}"
        r = api.post(
            "/mount", json={"fstype": "s3fs", "path": path, "config": moto.mount_config(bucket)}
        )
        assert r.status_code == 200, r.text
        try:
            long_name = "k" * 1100
            for method in ("GET", "PUT", "DELETE"):
                r = api.request(
                    method,
                    "/files",
                    params={"path": f"{path}/{long_name}"},
                    content=b"x" if method == "PUT" else None,
                )
                assert r.status_code == 400, (method, r.text)
                assert "limit of 1024" in r.json()["error"]
        finally:
            api.post("/unmount", json={"path": path})
