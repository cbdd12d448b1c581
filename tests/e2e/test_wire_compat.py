"""Each request the original `pypfs` SDK sends (spec/CLIENTS.md §1), sent exactly as it sends it
(requests, same params and bodies), checking the response fields it reads."""

from __future__ import annotations

import json
import uuid

import pytest
import requests


@pytest.fixture
def pypfs(server):
    session = requests.Session()
    base = server.api

    def call(method, endpoint, **kwargs):
        r = session.request(method, base + endpoint, timeout=10, **kwargs)
        return r

    return call


def test_pypfs_calls(pypfs):
    d = f"/memfs/compat-{uuid.uuid4().hex[:6]}"
    # health(): GET /health → dict
    assert pypfs("GET", "/health").json()["status"] == "healthy"
    # mkdir(path, mode="755")
    r = pypfs("POST", "/directories", params={"path": d, "mode": "755"})
    assert r.status_code == 201 and isinstance(r.json(), dict)
    # create(path)
    assert pypfs("POST", "/files", params={"path": f"{d}/empty"}).json() == {
        "message": "file created"
    }
    # write(path, data) — body, no Content-Type; reads "message"
    r = pypfs("PUT", "/files", params={"path": f"{d}/a.txt"}, data=b"line one\nline two\n")
    r.raise_for_status()
    assert r.json().get("message", "OK") == ""
    # cat(path) / cat(path, offset, size) — offset only if > 0, size only if >= 0
    assert pypfs("GET", "/files", params={"path": f"{d}/a.txt"}).content == b"line one\nline two\n"
    assert (
        pypfs("GET", "/files", params={"path": f"{d}/a.txt", "offset": 5, "size": 3}).content
        == b"one"
    )
    # cat(path, stream=True) → iter_content
    r = session_stream = pypfs(
        "GET", "/files", params={"path": f"{d}/a.txt", "stream": "true"}, stream=True
    )
    assert b"".join(session_stream.iter_content(8192)) == b"line one\nline two\n"
    assert r.status_code == 200
    # ls(path) → "files" (null → [])
    files = pypfs("GET", "/directories", params={"path": d}).json()["files"] or []
    assert {f["name"] for f in files} == {"empty", "a.txt"}
    for f in files:
        assert {"name", "size", "mode", "modTime", "isDir", "meta"} <= set(f)
        assert set(f["meta"]) == {"Name", "Type", "Content"}
    # stat(path) → isDir, size, mode, modTime, name, meta
    st = pypfs("GET", "/stat", params={"path": f"{d}/a.txt"}).json()
    assert st["isDir"] is False and st["size"] == 18 and st["name"] == "a.txt"
    # mv(old, new): JSON {"newPath"}
    assert pypfs(
        "POST", "/rename", params={"path": f"{d}/empty"}, json={"newPath": f"{d}/moved"}
    ).json() == {"message": "renamed"}
    # chmod(path, mode:int)
    assert pypfs("POST", "/chmod", params={"path": f"{d}/moved"}, json={"mode": 420}).json() == {
        "message": "permissions changed"
    }
    # grep(...) non-stream → matches, count
    g = pypfs(
        "POST",
        "/grep",
        json={
            "path": d,
            "pattern": "two",
            "recursive": True,
            "case_insensitive": False,
            "stream": False,
        },
    ).json()
    assert g["count"] == 1 and g["matches"][0] == {
        "file": f"{d}/a.txt",
        "line": 2,
        "content": "line two",
    }
    # grep stream → NDJSON lines, summary with count
    r = pypfs(
        "POST",
        "/grep",
        json={
            "path": d,
            "pattern": "line",
            "recursive": True,
            "case_insensitive": False,
            "stream": True,
        },
        stream=True,
    )
    objects = [json.loads(line) for line in r.iter_lines() if line]
    assert objects[-1] == {"count": 2, "type": "summary"}
    assert all({"file", "line", "content"} <= set(o) for o in objects[:-1])
    # digest(path, algorithm="xxh3")
    dg = pypfs("POST", "/digest", json={"algorithm": "xxh3", "path": f"{d}/a.txt"}).json()
    assert set(dg) == {"algorithm", "path", "digest"} and len(dg["digest"]) == 16
    # mount(fstype, path, config) with numbers/booleans as the CLI parses k=v
    r = pypfs(
        "POST",
        "/mount",
        json={"fstype": "serverinfofs", "path": f"/info-{d[-6:]}", "config": {"version": "9.9"}},
    )
    assert r.json()["message"] == "plugin mounted"
    mounts = pypfs("GET", "/mounts").json()["mounts"]
    assert any(
        m["path"] == f"/info-{d[-6:]}"
        and m["pluginName"] == "serverinfofs"
        and m["config"] == {"version": "9.9"}
        for m in mounts
    )
    assert pypfs("POST", "/unmount", json={"path": f"/info-{d[-6:]}"}).json() == {
        "message": "plugin unmounted"
    }
    # list_plugins() → loaded_plugins
    assert pypfs("GET", "/plugins").json()["loaded_plugins"] == []
    # rm(path, recursive=True)
    assert pypfs("DELETE", "/files", params={"path": d, "recursive": "true"}).json() == {
        "message": "deleted"
    }
    # errors: JSON {"error"} that PFSClientError shows verbatim; raise_for_status sees >= 400
    r = pypfs("GET", "/stat", params={"path": d})
    assert r.status_code >= 400 and r.json()["error"]


def test_go_client_quirks(pypfs):
    """The Go client (proxyfs) sends Content-Type: application/json on PUT data and
    recursive=false explicitly; mode as octal text."""
    d = f"/memfs/go-{uuid.uuid4().hex[:6]}"
    assert pypfs("POST", "/directories", params={"path": d, "mode": "750"}).status_code == 201
    r = pypfs(
        "PUT",
        "/files",
        params={"path": f"{d}/j"},
        data=b'{"raw": true}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200
    assert pypfs("GET", "/files", params={"path": f"{d}/j"}).content == b'{"raw": true}'
    assert (
        pypfs("DELETE", "/files", params={"path": f"{d}/j", "recursive": "false"}).status_code
        == 200
    )
    assert pypfs("DELETE", "/files", params={"path": d, "recursive": "false"}).status_code == 200
