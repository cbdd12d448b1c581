"""sqlfs on a real SQLite file and the real MariaDB, through a real pfs-server."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.server import ServerProcess, free_port

# A memfs-only server per module; the root conftest's ``api`` talks to it.
server = server_fixture(MEMFS_ONLY)


@pytest.fixture(params=["sqlite", "mysql", "postgres"])
def backend_config(request, tmp_path):
    """An sqlfs config for each back end (MariaDB, PostgreSQL: a fresh database, dropped
    afterwards)."""
    if request.param == "sqlite":
        return {"backend": "sqlite", "db_path": str(tmp_path / "fs.db")}
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_database_factory")()
        return {"backend": "postgres", "dsn": f"postgresql://postgres@127.0.0.1:5432/{database}"}
    database = request.getfixturevalue("mysql_database_factory")()
    return {"backend": "mysql", "dsn": f"root:@tcp(127.0.0.1:3306)/{database}"}


def mount(api, config, path=None) -> str:
    path = path or f"/sql-{uuid.uuid4().hex[:8]}"
    r = api.post("/mount", json={"fstype": "sqlfs", "path": path, "config": config})
    assert r.status_code == 200, r.text
    return path


def names(api, path) -> list[str]:
    r = api.get("/directories", params={"path": path})
    assert r.status_code == 200, r.text
    return sorted(f["name"] + ("/" if f["isDir"] else "") for f in r.json()["files"] or [])


def test_every_operation(api, backend_config):
    """create, mkdir, write, read, ls, stat, rename (file and subtree), chmod, rm, rm -r."""
    root = mount(api, backend_config)
    kind = {"sqlite": "sqlite3"}.get(backend_config["backend"], backend_config["backend"])
    assert api.post("/directories", params={"path": f"{root}/d"}).status_code == 201
    assert api.post("/directories", params={"path": f"{root}/d/sub"}).status_code == 201
    assert api.post("/files", params={"path": f"{root}/d/empty"}).status_code == 201
    r = api.put("/files", params={"path": f"{root}/d/sub/a.txt"}, content=b"hello world")
    assert r.json() == {"message": "Written 11 bytes to /d/sub/a.txt"}
    assert api.get("/files", params={"path": f"{root}/d/sub/a.txt"}).content == b"hello world"
    r = api.get("/files", params={"path": f"{root}/d/sub/a.txt", "offset": 6, "size": 3})
    assert r.content == b"wor"
    stat = api.get("/stat", params={"path": f"{root}/d/sub/a.txt"}).json()
    assert stat["size"] == 11 and stat["mode"] == 0o644 and stat["meta"]["Type"] == kind
    assert names(api, root) == ["d/"]
    assert names(api, f"{root}/d") == ["empty", "sub/"]

    r = api.post("/rename", params={"path": f"{root}/d"}, json={"newPath": f"{root}/e"})
    assert r.status_code == 200, r.text
    assert api.get("/files", params={"path": f"{root}/e/sub/a.txt"}).content == b"hello world"
    assert api.get("/stat", params={"path": f"{root}/d/sub/a.txt"}).status_code == 404
    r = api.post("/chmod", params={"path": f"{root}/e/empty"}, json={"mode": 0o600})
    assert r.status_code == 200
    assert api.get("/stat", params={"path": f"{root}/e/empty"}).json()["mode"] == 0o600
    r = api.post("/chmod", params={"path": f"{root}/e/empty"}, json={"mode": 0o600})
    assert r.status_code == 200  # same mode again is not "not found"

    r = api.delete("/directories", params={"path": f"{root}/e"})
    assert r.status_code == 409 and r.json()["error"] == f"directory not empty: {root}/e"
    assert api.delete("/files", params={"path": f"{root}/e/empty"}).status_code == 200
    assert (
        api.delete("/files", params={"path": f"{root}/e", "recursive": "true"}).status_code == 200
    )
    assert names(api, root) == []
    api.post("/unmount", json={"path": root})


def test_typed_errors(api, backend_config):
    """The original's typed messages and statuses."""
    root = mount(api, backend_config)
    r = api.get("/files", params={"path": f"{root}/nope"})
    assert r.status_code == 404 and r.json()["error"] == f"no such file or directory: {root}/nope"
    r = api.post("/files", params={"path": f"{root}/no/x"})
    assert r.status_code == 404 and r.json()["error"] == f"no such file or directory: {root}/no/x"
    api.post("/directories", params={"path": f"{root}/d"})
    r = api.post("/directories", params={"path": f"{root}/d"})
    assert r.status_code == 409 and r.json()["error"] == f"file already exists: {root}/d"
    r = api.get("/files", params={"path": f"{root}/d"})
    assert r.status_code == 400 and r.json()["error"] == f"is a directory: {root}/d"
    assert r.headers["x-pfs-error-kind"] == "IsADirectory"
    api.put("/files", params={"path": f"{root}/f"}, content=b"1")
    r = api.post("/files", params={"path": f"{root}/f"})
    assert r.status_code == 409 and r.json()["error"] == f"file already exists: {root}/f"
    r = api.get("/directories", params={"path": f"{root}/f"})
    assert r.json()["error"] == f"not a directory: {root}/f"
    r = api.post("/rename", params={"path": f"{root}/f"}, json={"newPath": f"{root}/d"})
    assert r.status_code == 409 and r.json()["error"] == f"file already exists: {root}/d"
    api.post("/unmount", json={"path": root})


def test_20_mib_file_in_chunks(api, backend_config):
    """A 20 MiB file streams in and out whole, and ranges across chunk boundaries are exact."""
    root = mount(api, backend_config)
    data = os.urandom(20 << 20)

    def body():
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    r = api.put("/files", params={"path": f"{root}/big.bin"}, content=body())
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"Written {20 << 20} bytes to /big.bin"
    assert api.get("/stat", params={"path": f"{root}/big.bin"}).json()["size"] == 20 << 20
    digest = hashlib.sha256()
    with api.stream("GET", "/files", params={"path": f"{root}/big.bin", "stream": "true"}) as r:
        for chunk in r.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    start = (1 << 20) - 10
    r = api.get("/files", params={"path": f"{root}/big.bin", "offset": start, "size": 3 << 20})
    assert r.content == data[start : start + (3 << 20)]
    r = api.get("/files", params={"path": f"{root}/big.bin"}, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    # Replacing it with small content removes the chunks.
    api.put("/files", params={"path": f"{root}/big.bin"}, content=b"small")
    assert api.get("/files", params={"path": f"{root}/big.bin"}).content == b"small"
    if backend_config["backend"] == "sqlite":
        with sqlite3.connect(backend_config["db_path"]) as conn:
            assert conn.execute("SELECT count(*) FROM file_chunks").fetchone()[0] == 0
    api.post("/unmount", json={"path": root})


def test_failed_write_keeps_old_content(api, backend_config):
    """An upload over max_file_size is 413 and the previous content (and no stray chunk) stays."""
    root = mount(api, {**backend_config, "max_file_size": "2MB"})
    old = os.urandom(1_500_000)
    api.put("/files", params={"path": f"{root}/f"}, content=old)

    def body():
        for _ in range(3):
            yield os.urandom(1 << 20)

    r = api.put("/files", params={"path": f"{root}/f"}, content=body())
    assert r.status_code == 413
    assert r.json()["error"].startswith(f"{root}/f: file size exceeds maximum limit of 2MB")
    assert api.get("/files", params={"path": f"{root}/f"}).content == old
    if backend_config["backend"] == "sqlite":
        with sqlite3.connect(backend_config["db_path"]) as conn:
            assert conn.execute("SELECT count(*) FROM file_chunks").fetchone()[0] == 2
    api.post("/unmount", json={"path": root})


def test_cache_never_stale_after_own_write(api, backend_config):
    """With a long TTL, stat and listings still show a write's new size at once."""
    root = mount(api, {**backend_config, "cache_ttl_seconds": 3600})
    api.put("/files", params={"path": f"{root}/f"}, content=b"1")
    for _ in range(2):  # fill the caches
        assert api.get("/stat", params={"path": f"{root}/f"}).json()["size"] == 1
        assert api.get("/directories", params={"path": root}).json()["files"][0]["size"] == 1
    api.put("/files", params={"path": f"{root}/f"}, content=b"12345")
    assert api.get("/stat", params={"path": f"{root}/f"}).json()["size"] == 5
    assert api.get("/directories", params={"path": root}).json()["files"][0]["size"] == 5
    api.post("/files", params={"path": f"{root}/g"})
    assert names(api, root) == ["f", "g"]
    api.post("/rename", params={"path": f"{root}/g"}, json={"newPath": f"{root}/h"})
    assert names(api, root) == ["f", "h"]
    api.delete("/files", params={"path": f"{root}/h"})
    assert names(api, root) == ["f"]
    assert api.get("/stat", params={"path": f"{root}/h"}).status_code == 404
    api.post("/unmount", json={"path": root})


def test_restart_persistence(backend_config):
    """Files written before a server restart are there after it (config-file mount)."""
    config = {"plugins": {"sqlfs": {"enabled": True, "path": "/sqlfs", "config": backend_config}}}
    data = os.urandom(3 << 20)
    with ServerProcess(config) as first:
        httpx.post(first.api + "/directories", params={"path": "/sqlfs/keep"})
        r = httpx.put(
            first.api + "/files", params={"path": "/sqlfs/keep/x"}, content=data, timeout=60
        )
        assert r.status_code == 200, r.text
    with ServerProcess(config) as second:
        r = httpx.get(second.api + "/files", params={"path": "/sqlfs/keep/x"}, timeout=60)
        assert r.content == data


def test_non_utf8_and_like_characters_in_names(api, backend_config):
    """Names with U+FFFD (invalid UTF-8 on the wire), % and _ list and read back exactly."""
    root = mount(api, backend_config)
    api.post("/directories", params={"path": f"{root}/a_b"})
    api.post("/directories", params={"path": f"{root}/a%b"})
    api.put("/files", params={"path": f"{root}/a_b/x"}, content=b"1")
    assert api.put(f"/files?path={root}/a%25b/caf%FF", content=b"2").status_code == 200
    assert names(api, f"{root}/a_b") == ["x"]
    assert names(api, f"{root}/a%b") == ["caf\ufffd"]
    assert api.get(f"/files?path={root}/a%25b/caf%FF").content == b"2"
    api.post("/unmount", json={"path": root})


def test_bad_config(api, tmp_path):
    """Unknown backend, unreachable MySQL and an unusable SQLite path are clear errors."""
    r = api.post(
        "/mount", json={"fstype": "sqlfs", "path": "/bad", "config": {"backend": "oracle"}}
    )
    assert r.status_code == 400
    assert (
        "unsupported database backend: oracle (valid options: sqlite, sqlite3, tidb, mysql, "
        "postgres)"
        in (r.json()["error"])
    )
    port = free_port()
    r = api.post(
        "/mount",
        json={"fstype": "sqlfs", "path": "/bad", "config": {"backend": "mysql", "port": port}},
    )
    assert r.status_code == 503 and f"127.0.0.1:{port}" in r.json()["error"]
    r = api.post(
        "/mount",
        json={
            "fstype": "sqlfs",
            "path": "/bad",
            "config": {"db_path": str(tmp_path / "missing" / "x.db")},
        },
    )
    assert r.status_code == 503 and "does not exist" in r.json()["error"]
    assert "/bad" not in {m["path"] for m in api.get("/mounts").json()["mounts"] or []}


def test_tls_is_requested_when_configured(api, mysql_database_factory):
    """tls=true in the DSN makes sqlfs speak TLS: the local MariaDB (no TLS) refuses it clearly."""
    dsn = f"root:@tcp(127.0.0.1:3306)/{mysql_database_factory()}?tls=true"
    r = api.post(
        "/mount",
        json={"fstype": "sqlfs", "path": "/tls", "config": {"backend": "mysql", "dsn": dsn}},
    )
    assert r.status_code == 503
    assert "127.0.0.1:3306" in r.json()["error"] and "SSL" in r.json()["error"]


def test_postgres_tls_is_requested_when_configured(api, postgres_database_factory):
    """sslmode=require makes the postgres backend speak TLS: the local server (ssl off) refuses
    it, and the mount says so naming the server."""
    dsn = f"postgresql://postgres@127.0.0.1:5432/{postgres_database_factory()}?sslmode=require"
    r = api.post(
        "/mount",
        json={"fstype": "sqlfs", "path": "/pgtls", "config": {"backend": "postgres", "dsn": dsn}},
    )
    assert r.status_code == 503
    assert "127.0.0.1:5432" in r.json()["error"] and "SSL" in r.json()["error"]
