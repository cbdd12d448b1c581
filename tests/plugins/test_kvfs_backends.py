"""kvfs on its sqlite, mysql, postgres, redis and nats backends: the same file semantics as memory,
persistence, and one namespace shared by two servers (atomic read-modify-write across them)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pfs.testing.engines import ENGINES
from pfs.testing.mariadb import MariaDB
from pfs.testing.postgres import Postgres
from pfs.testing.server import ServerProcess, free_port
from tests.helpers.load import connection, files_target, request
from tests.helpers.queuefs import MARIADB, POSTGRES, scratch_database


def _kv_config(request, tmp_path):
    if request.param == "memory":
        yield lambda **extra: {"backend": "memory", **extra}
        return
    if request.param == "sqlite":
        yield lambda **extra: {"backend": "sqlite", "db_path": str(tmp_path / "kv.db"), **extra}
        return
    with scratch_database(request.param, "pfs_kvfs") as database:
        yield lambda **extra: _shared_config(request.param, database, **extra)


#: The back ends whose data outlives a server (every one but memory).
PERSISTENT = ["sqlite", "mysql", "postgres", "redis", "nats"]


def _shared_config(backend: str, database: str | None, **extra) -> dict:
    if backend in ENGINES:
        return ENGINES[backend].config(database, **extra)
    if backend == "postgres":
        return POSTGRES.config(database, **extra)
    return {"backend": "mysql", **MARIADB.config(database), **extra}


@pytest.fixture(params=PERSISTENT)
def kv_config(request, tmp_path):
    """A factory of kvfs configs on one persistent backend (scratch database for mysql and
    postgres)."""
    yield from _kv_config(request, tmp_path)


@pytest.fixture(params=["memory", *PERSISTENT])
def any_kv_config(request, tmp_path):
    """The same, memory included: every backend must behave as the memory one does."""
    yield from _kv_config(request, tmp_path)


def kv_server(config: dict, path: str = "/kv") -> dict:
    return {"plugins": {"kvfs": {"enabled": True, "path": path, "config": config}}}


def put(api: httpx.Client, key: str, data: bytes, **params) -> httpx.Response:
    return api.put("/files", params={"path": f"/kv/keys/{key}", **params}, content=data)


def get(api: httpx.Client, key: str) -> httpx.Response:
    return api.get("/files", params={"path": f"/kv/keys/{key}"})


def test_file_semantics_are_the_same_on_every_backend(any_kv_config, start_server):
    proc = start_server(kv_server(any_kv_config()))
    with httpx.Client(base_url=proc.api) as api:
        assert put(api, "name", b"alice").json() == {"message": ""}
        assert get(api, "name").content == b"alice"
        assert put(api, "dir/sub", b"x").status_code == 200
        names = sorted(f["name"] for f in api.get("/directories",
                                                   params={"path": "/kv/keys"}).json()["files"])
        assert names == ["name", "sub"]
        assert api.get("/stat", params={"path": "/kv/keys/name"}).json()["size"] == 5
        assert put(api, "name", b"!", offset=5).status_code == 200
        assert put(api, "name", b"?", flags="append").status_code == 200
        assert get(api, "name").content == b"alice!?"
        r = put(api, "name", b"no", flags="create,exclusive")
        assert (r.status_code, r.json()["error"]) == (409, "file already exists: /kv/keys/name")
        r = put(api, "ghost", b"no", offset=3, flags="")
        assert (r.status_code, r.json()["error"]) == (
            404,
            "no such file or directory: /kv/keys/ghost",
        )
        assert api.post("/files", params={"path": "/kv/keys/empty"}).status_code == 201
        assert api.post("/files", params={"path": "/kv/keys/empty"}).status_code == 409
        r = api.post("/rename", params={"path": "/kv/keys/name"},
                     json={"newPath": "/kv/keys/user"})
        assert r.status_code == 200
        r = api.post("/rename", params={"path": "/kv/keys/user"},
                     json={"newPath": "/kv/keys/empty"})
        assert (r.status_code, r.json()["error"]) == (409, "file already exists: /kv/keys/empty")
        assert get(api, "user").content == b"alice!?"
        assert get(api, "name").status_code == 404
        assert api.delete("/files", params={"path": "/kv/keys/user"}).status_code == 200
        r = api.delete("/files", params={"path": "/kv/keys/user"})
        assert (r.status_code, r.json()["error"]) == (
            404,
            "no such file or directory: /kv/keys/user",
        )
        assert api.delete("/files", params={"path": "/kv/keys",
                                            "recursive": "true"}).status_code == 200
        assert api.get("/directories", params={"path": "/kv/keys"}).json()["files"] is None


def test_overlong_key_is_refused_and_nothing_stored(kv_config, start_server):
    proc = start_server(kv_server(kv_config()))
    with httpx.Client(base_url=proc.api) as api:
        r = put(api, "k" * 600, b"x")
        assert r.status_code == 400 and "longer than 575" in r.json()["error"]
        assert api.get("/directories", params={"path": "/kv/keys"}).json()["files"] is None


def test_data_survives_restart_and_initial_data_never_overwrites(kv_config, tmp_path):
    config = kv_server(kv_config(initial_data={"greeting": "hello", "answer": 42}))
    with ServerProcess(config) as proc, httpx.Client(base_url=proc.api) as api:
        assert get(api, "answer").content == b"42"
        put(api, "greeting", b"changed")
        put(api, "bin", bytes(range(256)))
    with ServerProcess(config) as proc, httpx.Client(base_url=proc.api) as api:
        assert get(api, "greeting").content == b"changed"
        assert get(api, "bin").content == bytes(range(256))


def test_namespaces_are_separate(kv_config, start_server):
    proc = start_server({"plugins": {"kvfs": [
        {"name": "a", "enabled": True, "path": "/kv", "config": kv_config(namespace="a")},
        {"name": "b", "enabled": True, "path": "/kvb", "config": kv_config(namespace="b")},
        {"name": "a2", "enabled": True, "path": "/kva", "config": kv_config(namespace="a")},
    ]}})
    with httpx.Client(base_url=proc.api) as api:
        put(api, "k", b"in a")
        assert api.get("/files", params={"path": "/kvb/keys/k"}).status_code == 404
        assert api.get("/files", params={"path": "/kva/keys/k"}).content == b"in a"


@pytest.mark.parametrize("backend", ["mysql", "postgres"])
def test_two_servers_share_a_namespace_with_atomic_appends(backend, start_server):
    with scratch_database(backend, "pfs_kvfs_two") as database:
        config = kv_server(_shared_config(backend, database, namespace="shared"))
        servers = [start_server(config), start_server(config)]
        with httpx.Client(base_url=servers[0].api) as api:
            put(api, "log", b"")

        async def append(url: str, mark: bytes) -> None:
            async with connection(url) as conn:
                for _ in range(100):
                    status, body = await request(
                        conn, "PUT", files_target("/kv/keys/log") + "&flags=append", mark)
                    assert status == 200, body

        async def run() -> None:
            await asyncio.gather(*(append(s.api, m) for s in servers for m in (b"a", b"b")))

        asyncio.run(run())
        with httpx.Client(base_url=servers[1].api) as api:
            log = get(api, "log").content
        assert len(log) == 400 and log.count(b"a") == 200 and log.count(b"b") == 200


@pytest.mark.parametrize("backend", ["mysql", "postgres"])
def test_database_unreachable_is_503_naming_the_address(backend, start_server):
    port = free_port()
    proc = start_server(None)
    config = (Postgres(port=port).config("pfs_nowhere") if backend == "postgres"
              else {"backend": "mysql", **MariaDB(port=port).config("pfs_nowhere")})
    with httpx.Client(base_url=proc.api) as api:
        r = api.post("/mount", json={"fstype": "kvfs", "path": "/kvdown", "config": config})
        assert r.status_code == 503 and f"127.0.0.1:{port}" in r.json()["error"]


def test_unknown_backend_is_refused(start_server):
    proc = start_server(None)
    with httpx.Client(base_url=proc.api) as api:
        r = api.post("/mount", json={"fstype": "kvfs", "path": "/kvx",
                                     "config": {"backend": "oracle"}})
        assert r.status_code == 400 and "backend" in r.json()["error"]
