"""The ASGI app in process: built and started as the CLI does (pfs.testing.inprocess), driven
through ``httpx.ASGITransport``. A faster layer on top of the real-server tests, not instead."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from pfs.testing.inprocess import running_app

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "hellofs": {"enabled": True, "path": "/hellofs"},
    }
}


@pytest.fixture
async def api():
    async with running_app(CONFIG) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://in-process/api/v1") as client:
            yield client


async def test_config_mounts_are_made_at_start(api):
    mounts = {m["path"]: m["pluginName"] for m in (await api.get("/mounts")).json()["mounts"]}
    assert mounts == {"/memfs": "memfs", "/hellofs": "hellofs", "/dev": "devfs"}  # devfs: always
    r = await api.get("/files", params={"path": "/hellofs/hello"})
    assert (r.status_code, r.content) == (200, b"Hello, World!\n")


async def test_write_read_stat_ls_rm(api):
    r = await api.put("/files", params={"path": "/memfs/a.txt"}, content=b"hello world")
    assert (r.status_code, r.json()) == (200, {"message": ""})
    r = await api.get("/files", params={"path": "/memfs/a.txt", "offset": 6})
    assert (r.status_code, r.content) == (200, b"world")
    info = (await api.get("/stat", params={"path": "/memfs/a.txt"})).json()
    assert (info["name"], info["size"], info["isDir"]) == ("a.txt", 11, False)
    listing = (await api.get("/directories", params={"path": "/memfs"})).json()["files"]
    assert [e["name"] for e in listing] == ["README", "a.txt"]
    assert (await api.delete("/files", params={"path": "/memfs/a.txt"})).status_code == 200
    r = await api.get("/stat", params={"path": "/memfs/a.txt"})
    assert (r.status_code, r.json()) == (404, {"error": "no such file or directory: /memfs/a.txt"})


@pytest.mark.parametrize(("method", "url", "params", "body", "status", "kind"), [
    ("GET", "/files", {"path": "/memfs/none"}, None, 404, "NotFound"),
    ("GET", "/files", {"path": "/memfs"}, None, 400, "IsADirectory"),
    ("POST", "/directories", {"path": "/memfs/x/y"}, None, 404, "NotFound"),
    ("PUT", "/files", {"path": "/hellofs/hello"}, None, 403, "ReadOnly"),
    ("POST", "/files", {"path": "/nowhere/f"}, None, 404, "NotFound"),
    ("POST", "/rename", {"path": "/memfs/d"}, {"newPath": "/hellofs/d"}, 400, "CrossMount"),
])
async def test_errors_are_typed(api, method, url, params, body, status, kind):
    assert (await api.post("/directories", params={"path": "/memfs/d"})).status_code == 201
    r = await api.request(method, url, params=params, json=body)
    assert (r.status_code, r.headers["x-pfs-error-kind"]) == (status, kind), r.text
    assert set(r.json()) == {"error"}
    listing = (await api.get("/directories", params={"path": "/memfs"})).json()["files"]
    assert [e["name"] for e in listing] == ["README", "d"]  # nothing made or moved


async def test_mkdir_then_nested_write(api):
    for path in ("/memfs/p", "/memfs/p/q"):
        assert (await api.post("/directories", params={"path": path})).status_code == 201
    r = await api.post("/directories", params={"path": "/memfs/p"})
    assert (r.status_code, r.headers["x-pfs-error-kind"]) == (409, "AlreadyExists")
    assert (await api.put("/files", params={"path": "/memfs/p/q/f"}, content=b"x")).status_code \
        == 200
    assert (await api.get("/stat", params={"path": "/memfs/p/q"})).json()["isDir"] is True


async def test_a_few_mib_round_trip(api):
    data = os.urandom(3 << 20)
    r = await api.put("/files", params={"path": "/memfs/big.bin"}, content=data)
    assert r.status_code == 200
    r = await api.get("/files", params={"path": "/memfs/big.bin"})
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    r = await api.get("/files", params={"path": "/memfs/big.bin", "offset": 1 << 20,
                                         "size": 10})
    assert r.content == data[1 << 20 : (1 << 20) + 10]


async def test_grep(api):
    await api.put("/files", params={"path": "/memfs/g.txt"}, content=b"alpha\nbeta\nBeta\n")
    r = await api.post("/grep", json={"path": "/memfs/g.txt", "pattern": "beta",
                                      "case_insensitive": True})
    assert r.status_code == 200
    assert [(m["line"], m["content"]) for m in r.json()["matches"]] == [(2, "beta"), (3, "Beta")]
    r = await api.post("/grep", json={"path": "/memfs/g.txt", "pattern": "("})
    assert (r.status_code, r.headers["x-pfs-error-kind"]) == (400, "InvalidArgument")


async def test_unknown_route_and_method(api):
    r = await api.get("/nope")
    assert (r.status_code, r.text) == (404, "404 page not found\n")
    r = await api.patch("/files", params={"path": "/memfs/x"})
    assert (r.status_code, r.json()) == (405, {"error": "method not allowed"})


async def test_bad_config_fails_start_up():
    with pytest.raises(Exception, match="unknown plugin 'nosuchfs'"):
        async with running_app({"plugins": {"nosuchfs": {"enabled": True, "path": "/x"}}}):
            pass
