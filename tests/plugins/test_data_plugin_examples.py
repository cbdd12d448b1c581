"""The original README's examples for sqlfs, proxyfs, s3fs and httpfs, run over HTTP.

Configs are the README's (multi-instance lists, ``http_port: "9000"`` strings, a ``base_url``
ending in ``/api/v1``, an S3 ``prefix: pfs/``); only hosts, ports, bucket and file paths point
at what the test starts on loopback. Shell commands are shown next to their HTTP equivalent.
"""

from __future__ import annotations

import httpx
import pytest

from pfs.client import Client
from pfs.testing.moto import MotoServer
from pfs.testing.server import ServerProcess, free_port


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        server.client().create_bucket(Bucket="my-bucket-name")
        yield server


@pytest.fixture(scope="module")
def remote():
    with ServerProcess({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}) as server:
        httpx.post(server.api + "/directories", params={"path": "/memfs/data"})
        httpx.put(server.api + "/files", params={"path": "/memfs/data/file.txt"}, content=b"remote")
        yield server


@pytest.fixture(scope="module")
def mysql_database(request):
    """A fresh MariaDB database for the "production" instance (None when MariaDB is absent)."""
    try:
        return request.getfixturevalue("mysql_database_factory")()
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory, moto, remote, mysql_database):
    tmp = tmp_path_factory.mktemp("readme")
    web_port = free_port()
    sqlfs = [
        {
            "name": "local",
            "enabled": True,
            "path": "/sqlfs",
            "config": {
                "backend": "sqlite",
                "db_path": str(tmp / "sqlfs.db"),
                "cache_enabled": True,
                "cache_max_size": 1000,
                "cache_ttl_seconds": 5,
            },
        }
    ]
    if mysql_database:
        sqlfs.append(
            {
                "name": "production",
                "enabled": True,
                "path": "/sqlfs_prod",
                "config": {
                    "backend": "tidb",
                    "cache_enabled": True,
                    "dsn": f"root:@tcp(127.0.0.1:3306)/{mysql_database}?charset=utf8mb4",
                },
            }
        )
    config = {
        "plugins": {
            "memfs": {
                "enabled": True,
                "path": "/memfs",
                "config": {"init_dirs": ["/home", "/tmp"]},
            },
            "sqlfs": sqlfs,
            "proxyfs": [
                {
                    "name": "remote1",
                    "enabled": True,
                    "path": "/remote/server1",
                    "config": {"base_url": remote.url + "/api/v1"},
                }
            ],
            "s3fs": [
                {
                    "name": "mybucket",
                    "enabled": True,
                    "path": "/s3/mybucket",
                    "config": {
                        **moto.mount_config("my-bucket-name"),
                        "region": "us-west-1",
                        "prefix": "pfs/",
                    },
                }
            ],
            "httpfs": [
                {
                    "name": "httpfs-memfs",
                    "enabled": True,
                    "path": "/httpfs-memfs",
                    "config": {"pfs_path": "/memfs", "http_port": str(web_port)},
                }
            ],
        }
    }
    with ServerProcess(config) as proc:
        proc.web_port = web_port  # type: ignore[attr-defined]
        yield proc


@pytest.fixture
def pfs(server):
    with Client(server.url, timeout=60) as client:
        yield client


def test_sqlfs_examples(pfs, server, mysql_database, tmp_path):
    """write/cat on /sqlfs (and /sqlfs_prod), and `mount sqlfs /test/db backend=sqlite ...`."""
    pfs.mkdir("/sqlfs/data")  # the original, too, needs the directory before the write
    pfs.write("/sqlfs/data/config.json", '{"key": "value"}')
    assert pfs.cat("/sqlfs/data/config.json") == b'{"key": "value"}'
    assert pfs.write("/sqlfs/local.txt", "local data") == "Written 10 bytes to /local.txt"
    if mysql_database:
        pfs.write("/sqlfs_prod/prod.txt", "production data")
        assert pfs.cat("/sqlfs_prod/prod.txt") == b"production data"
    r = httpx.post(
        server.api + "/mount",
        json={
            "fstype": "sqlfs",
            "path": "/test/db",
            "config": {"backend": "sqlite", "db_path": str(tmp_path / "test.db")},
        },
    )
    assert r.status_code == 200, r.text
    pfs.write("/test/db/x", "1")
    httpx.post(server.api + "/unmount", json={"path": "/test/db"})


def test_proxyfs_examples(pfs, remote):
    """ls, cat, write and cp through /remote/server1."""
    assert "memfs" in {e.name for e in pfs.ls("/remote/server1")}
    assert pfs.cat("/remote/server1/memfs/data/file.txt") == b"remote"
    pfs.write("/remote/server1/memfs/upload.txt", "data")
    assert httpx.get(remote.api + "/files", params={"path": "/memfs/upload.txt"}).content == b"data"
    pfs.copy("/remote/server1/memfs/data/file.txt", "/remote/server1/memfs/copy.txt")
    assert httpx.get(remote.api + "/files", params={"path": "/memfs/copy.txt"}).content == b"remote"


def test_s3fs_examples(pfs, moto, tmp_path):
    """write, upload, cat, download and ls on /s3/mybucket (keys under the pfs/ prefix)."""
    pfs.write("/s3/mybucket/data.txt", "content")
    local = tmp_path / "file.pdf"
    local.write_bytes(b"%PDF-1.4 fake")
    pfs.mkdir("/s3/mybucket/documents")
    pfs.upload(local, "/s3/mybucket/documents/file.pdf")
    assert pfs.cat("/s3/mybucket/data.txt") == b"content"
    pfs.download("/s3/mybucket/documents/file.pdf", tmp_path / "back.pdf")
    assert (tmp_path / "back.pdf").read_bytes() == b"%PDF-1.4 fake"
    assert {e.name for e in pfs.ls("/s3/mybucket")} == {"data.txt", "documents"}
    keys = {o["Key"] for o in moto.client().list_objects_v2(Bucket="my-bucket-name")["Contents"]}
    assert keys == {"pfs/data.txt", "pfs/documents/", "pfs/documents/file.pdf"}


def test_httpfs_examples(pfs, server):
    """Static instance on http_port "N", the README shown inline, and the dynamic curl mount."""
    port = server.web_port
    pfs.write("/memfs/report.pdf", b"%PDF-1.4 report")
    pfs.write("/memfs/README.md", "# Project\n\nDocumentation here")
    r = httpx.get(f"http://localhost:{port}/report.pdf")
    assert r.content == b"%PDF-1.4 report" and r.headers["content-type"] == "application/pdf"
    r = httpx.get(f"http://localhost:{port}/README.md")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    listing = httpx.get(f"http://localhost:{port}/").text
    assert '<a href="/README.md">' in listing and "README.md</a>" in listing

    dynamic = free_port()
    r = httpx.post(
        server.api + "/mount",
        json={
            "fstype": "httpfs",
            "path": "/my-http",
            "config": {"pfs_path": "/memfs", "http_port": str(dynamic)},
        },
    )
    assert r.status_code == 200, r.text
    status = httpx.get(server.api + "/files", params={"path": "/my-http"}).text
    assert status.startswith("HTTPFS Instance Status\n======================\n")
    assert "PFS Source Path: /memfs" in status and f"HTTP Port:       {dynamic}" in status
    assert httpx.get(f"http://localhost:{dynamic}/README.md").status_code == 200
    r = httpx.post(server.api + "/unmount", json={"path": "/my-http"})
    assert r.status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{dynamic}/")
