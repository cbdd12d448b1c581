"""Every /api/v1 endpoint over HTTP against a real server, with the spec's shapes and errors."""

from __future__ import annotations

import hashlib
import uuid

import pytest


@pytest.fixture
def d(api):
    """A fresh memfs directory for one test."""
    path = f"/memfs/t-{uuid.uuid4().hex[:8]}"
    assert api.post("/directories", params={"path": path}).status_code == 201
    yield path
    api.delete("/files", params={"path": path, "recursive": "true"})


def test_health_any_method(api):
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = api.request(method, "/health")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "healthy"
        # The original's four fields first, then AGFS's readiness fields.
        assert list(body)[:4] == ["status", "version", "gitCommit", "buildTime"]
        assert body["ready"] is True and body["degraded"] is False


def test_write_read_roundtrip(api, d):
    r = api.put("/files", params={"path": f"{d}/a.txt"}, content=b"hello world")
    assert r.status_code == 200 and r.json() == {"message": ""}
    r = api.get("/files", params={"path": f"{d}/a.txt"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.content == b"hello world"
    assert api.get("/files", params={"path": f"{d}/a.txt", "offset": 6}).content == b"world"
    assert (
        api.get("/files", params={"path": f"{d}/a.txt", "offset": 2, "size": 3}).content == b"llo"
    )
    assert api.get("/files", params={"path": f"{d}/a.txt", "size": 0}).content == b""
    assert api.get("/files", params={"path": f"{d}/a.txt", "offset": 99}).content == b""
    assert api.get("/files", params={"path": f"{d}/a.txt", "offset": -5}).content == b"hello world"


def test_bad_offset_and_size(api, d):
    api.put("/files", params={"path": f"{d}/a"}, content=b"x")
    r = api.get("/files", params={"path": f"{d}/a", "offset": "abc"})
    assert r.status_code == 400 and r.json() == {"error": "invalid offset parameter"}
    r = api.get("/files", params={"path": f"{d}/a", "size": "1.5"})
    assert r.status_code == 400 and r.json() == {"error": "invalid size parameter"}


def test_random_access_writes(api, d):
    p = f"{d}/r.bin"
    api.put("/files", params={"path": p}, content=b"0123456789")
    assert api.put("/files", params={"path": p, "offset": 2}, content=b"ab").status_code == 200
    assert api.get("/files", params={"path": p}).content == b"01ab456789"
    api.put("/files", params={"path": p, "flags": "append"}, content=b"XY")
    assert api.get("/files", params={"path": p}).content == b"01ab456789XY"
    api.put("/files", params={"path": p, "offset": 14}, content=b"Z")
    assert api.get("/files", params={"path": p}).content == b"01ab456789XY\x00\x00Z"
    r = api.put("/files", params={"path": p, "flags": "create,exclusive"}, content=b"no")
    assert r.status_code == 409
    r = api.put("/files", params={"path": f"{d}/missing", "flags": "truncate"}, content=b"x")
    assert r.status_code == 404
    r = api.put("/files", params={"path": p, "flags": "sideways"}, content=b"x")
    assert r.status_code == 400 and "unknown flag" in r.json()["error"]
    r = api.put("/files", params={"path": p, "offset": -1}, content=b"x")
    assert r.status_code == 400
    assert api.get("/files", params={"path": p}).content == b"01ab456789XY\x00\x00Z"


def test_create_and_mkdir(api, d):
    r = api.post("/files", params={"path": f"{d}/new"})
    assert r.status_code == 201 and r.json() == {"message": "file created"}
    r = api.post("/files", params={"path": f"{d}/new"})
    assert r.status_code == 409 and r.json() == {"error": f"file already exists: {d}/new"}
    r = api.post("/directories", params={"path": f"{d}/sub", "mode": "700"})
    assert r.status_code == 201 and r.json() == {"message": "directory created"}
    info = api.get("/stat", params={"path": f"{d}/sub"}).json()
    assert info["mode"] == 0o700 and info["isDir"] is True
    r = api.post("/directories", params={"path": f"{d}/sub2", "mode": "9z"})
    assert r.status_code == 400 and r.json() == {"error": "invalid mode"}
    r = api.post("/directories", params={"path": f"{d}/no/such/parent"})
    assert r.status_code == 404


def test_listing_and_fileinfo_shape(api, d):
    api.put("/files", params={"path": f"{d}/f"}, content=b"abc")
    api.post("/directories", params={"path": f"{d}/sub"})
    files = api.get("/directories", params={"path": d}).json()["files"]
    by_name = {f["name"]: f for f in files}
    assert set(by_name) == {"f", "sub"}
    f = by_name["f"]
    assert list(f) == ["name", "size", "mode", "modTime", "isDir", "meta"]
    assert f["size"] == 3 and f["mode"] == 420 and f["isDir"] is False
    assert f["meta"] == {"Name": "memfs", "Type": "file", "Content": None}
    assert by_name["sub"]["isDir"] is True and by_name["sub"]["mode"] == 493
    empty = api.get("/directories", params={"path": f"{d}/sub"}).json()
    assert empty == {"files": None}


def test_delete(api, d):
    api.post("/directories", params={"path": f"{d}/x"})
    api.put("/files", params={"path": f"{d}/x/y"}, content=b"1")
    r = api.delete("/files", params={"path": f"{d}/x"})
    assert r.status_code == 409 and r.json()["error"] == f"directory not empty: {d}/x"
    r = api.delete("/files", params={"path": f"{d}/x", "recursive": "true"})
    assert r.status_code == 200 and r.json() == {"message": "deleted"}
    r = api.delete("/directories", params={"path": f"{d}/x"})
    assert r.status_code == 404
    assert r.json() == {"error": f"no such file or directory: {d}/x"}


def test_missing_file_is_404(api, d):
    r = api.get("/files", params={"path": f"{d}/nope"})
    assert r.status_code == 404
    assert r.json() == {"error": f"no such file or directory: {d}/nope"}
    assert api.get("/stat", params={"path": f"{d}/nope"}).status_code == 404


def test_path_required(api):
    for method, url in [
        ("GET", "/files"),
        ("PUT", "/files"),
        ("POST", "/files"),
        ("DELETE", "/files"),
        ("GET", "/stat"),
        ("POST", "/directories"),
    ]:
        r = api.request(method, url)
        assert r.status_code == 400, (method, url)
        assert r.json() == {"error": "path parameter is required"}


def test_dotdot_never_climbs_above_root(api, d):
    api.put("/files", params={"path": f"{d}/in"}, content=b"inside")
    name = d.rsplit("/", 1)[1]
    r = api.get("/files", params={"path": f"/../../memfs/{name}/../{name}/./in"})
    assert r.content == b"inside"
    assert api.get("/stat", params={"path": "/../.."}).json()["name"] == "/"


def test_rename_and_chmod(api, d):
    api.put("/files", params={"path": f"{d}/a"}, content=b"A")
    r = api.post("/rename", params={"path": f"{d}/a"}, json={"newPath": f"{d}/b"})
    assert r.status_code == 200 and r.json() == {"message": "renamed"}
    assert api.get("/files", params={"path": f"{d}/b"}).content == b"A"
    r = api.post("/rename", params={"path": f"{d}/b"}, json={"NewPath": f"{d}/c"})
    assert r.status_code == 200, "JSON field names match case-insensitively"
    r = api.post("/rename", params={"path": f"{d}/c"}, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"].startswith("invalid request body")
    r = api.post("/rename", params={"path": f"{d}/c"}, json={})
    assert r.status_code == 400 and r.json() == {"error": "newPath is required"}
    r = api.post("/rename", params={"path": f"{d}/c"}, json={"newPath": 5})
    assert r.status_code == 400
    r = api.post("/rename", params={"path": f"{d}"}, json={"newPath": f"{d}/c/inside"})
    assert r.status_code == 400
    r = api.post("/chmod", params={"path": f"{d}/c"}, json={"mode": 0o600})
    assert r.status_code == 200 and r.json() == {"message": "permissions changed"}
    assert api.get("/stat", params={"path": f"{d}/c"}).json()["mode"] == 0o600
    r = api.post("/chmod", params={"path": f"{d}/c"}, json={"mode": "644"})
    assert r.status_code == 400
    assert api.get("/stat", params={"path": f"{d}/c"}).json()["mode"] == 0o600


def test_grep(api, d):
    api.put("/files", params={"path": f"{d}/one.txt"}, content=b"alpha\nBeta\r\ngamma beta\n")
    api.post("/directories", params={"path": f"{d}/sub"})
    api.put("/files", params={"path": f"{d}/sub/two.txt"}, content=b"no\nbeta here")
    r = api.post("/grep", json={"path": f"{d}/one.txt", "pattern": "beta"})
    assert r.json() == {
        "matches": [{"file": f"{d}/one.txt", "line": 3, "content": "gamma beta"}],
        "count": 1,
    }
    r = api.post(
        "/grep", json={"path": f"{d}/one.txt", "pattern": "beta", "case_insensitive": True}
    )
    assert [m["line"] for m in r.json()["matches"]] == [2, 3]
    assert r.json()["matches"][0]["content"] == "Beta"
    r = api.post("/grep", json={"path": d, "pattern": "beta"})
    assert r.status_code == 400
    assert r.json() == {"error": "path is a directory, use recursive=true to search"}
    r = api.post("/grep", json={"path": d, "pattern": "beta", "recursive": True})
    assert sorted(m["file"] for m in r.json()["matches"]) == [f"{d}/one.txt", f"{d}/sub/two.txt"]
    r = api.post("/grep", json={"path": d, "pattern": "beta", "recursive": True, "stream": True})
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = [line for line in r.text.splitlines() if line]
    assert lines[-1] == '{"count":2,"type":"summary"}'
    assert api.post("/grep", json={"path": d, "pattern": "("}).status_code == 400
    assert api.post("/grep", json={"path": d}).json() == {"error": "pattern is required"}
    assert api.post("/grep", json={"pattern": "x"}).json() == {"error": "path is required"}
    r = api.post("/grep", json={"path": f"{d}/none", "pattern": "x"})
    assert r.status_code == 404 and r.json()["error"].startswith("failed to stat path: ")
    r = api.post("/grep", json={"path": d, "pattern": "zzz", "recursive": True})
    assert r.json() == {"matches": [], "count": 0}


def test_digest(api, d):
    data = b"Hello, World!\n"
    api.put("/files", params={"path": f"{d}/h"}, content=data)
    r = api.post("/digest", json={"algorithm": "xxh3", "path": f"{d}/h"})
    assert r.json() == {"algorithm": "xxh3", "path": f"{d}/h", "digest": "e2a42fb0521986ba"}
    r = api.post("/digest", json={"algorithm": "md5", "path": f"{d}/h"})
    assert r.json()["digest"] == hashlib.md5(data).hexdigest()
    api.put("/files", params={"path": f"{d}/e"}, content=b"")
    assert api.post("/digest", json={"path": f"{d}/e"}).json()["digest"] == "6001c324468d497f"
    r = api.post("/digest", json={"algorithm": "sha1", "path": f"{d}/h"})
    assert r.status_code == 400
    assert r.json() == {"error": "unsupported algorithm: sha1 (supported: xxh3, md5)"}
    r = api.post("/digest", json={"algorithm": "md5", "path": f"{d}/nope"})
    assert r.status_code == 404 and r.json()["error"].startswith("failed to calculate digest:")


def test_unknown_routes_and_methods(api):
    r = api.get("/files/")
    assert r.status_code == 404 and r.text == "404 page not found\n"
    assert api.get("/plugins/x").status_code == 404
    r = api.patch("/files", params={"path": "/memfs/x"})
    assert r.status_code == 405 and r.json() == {"error": "method not allowed"}
    assert api.get("/rename").status_code == 405
    assert api.delete("/mounts").status_code == 405


def test_plugin_loading_not_enabled_is_refused(api):
    r = api.post("/plugins/load", json={"library_path": "/tmp/x.so"})
    assert r.status_code == 403
    assert "not enabled" in r.json()["error"]
    assert api.post("/plugins/load", json={}).status_code == 400
    assert api.get("/plugins").json() == {"loaded_plugins": []}


def test_kvfs(api):
    key = f"/kvfs/keys/k{uuid.uuid4().hex[:6]}"
    assert api.put("/files", params={"path": key}, content=b"v1").json() == {"message": ""}
    assert api.get("/files", params={"path": key}).content == b"v1"
    names = [
        f["name"] for f in api.get("/directories", params={"path": "/kvfs/keys"}).json()["files"]
    ]
    assert key.rsplit("/", 1)[1] in names
    assert [
        f["name"] for f in api.get("/directories", params={"path": "/kvfs"}).json()["files"]
    ] == ["README", "keys"]
    r = api.put("/files", params={"path": "/kvfs/other"}, content=b"x")
    assert r.status_code == 400 and "keys must be under /keys/" in r.json()["error"]
    r = api.post("/directories", params={"path": "/kvfs/dir"})
    assert r.status_code == 501 and r.json() == {
        "error": "/kvfs/dir: cannot create directories in kvfs service"
    }
    assert api.delete("/files", params={"path": key}).status_code == 200
    assert api.get("/files", params={"path": key}).status_code == 404


def test_hellofs_and_serverinfofs(api):
    assert api.get("/files", params={"path": "/hellofs/hello"}).content == b"Hello, World!\n"
    r = api.put("/files", params={"path": "/hellofs/hello"}, content=b"x")
    assert r.status_code == 403 and r.json() == {"error": "/hellofs/hello: read-only filesystem"}
    names = [
        f["name"] for f in api.get("/directories", params={"path": "/serverinfofs"}).json()["files"]
    ]
    assert names == ["README", "server_info", "uptime", "version", "stats", "traffic"]
    # The server's own version (the original printed a fixed 1.0.0 beside its real one).
    version = api.get("/health").json()["version"]
    assert api.get("/files", params={"path": "/serverinfofs/version"}).content == \
        f"{version}\n".encode()
    info = api.get("/files", params={"path": "/serverinfofs/server_info"}).json()
    assert {"goVersion", "memory", "numCPU", "startTime", "uptime", "version"} <= set(info)
    for mount in ("/memfs", "/kvfs", "/hellofs", "/serverinfofs"):
        readme = api.get("/files", params={"path": f"{mount}/README"})
        assert readme.status_code == 200 and len(readme.content) > 20, mount
        listed = {
            f["name"]: f for f in api.get("/directories", params={"path": mount}).json()["files"]
        }
        assert listed["README"]["size"] == len(readme.content), mount


def test_large_memfs_file_streams(api, d):
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: streamed in, streamed out
    assert api.put("/files", params={"path": f"{d}/big"}, content=data).status_code == 200
    assert api.get("/files", params={"path": f"{d}/big"}).content == data
    r = api.get("/files", params={"path": f"{d}/big"}, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
