"""Mount table behaviour over HTTP: routing, nested and virtual directories, run-time mounts."""

from __future__ import annotations

import threading

import httpx


def test_boundary_routing_and_nested_mounts(start_server):
    srv = start_server(
        {
            "plugins": {
                "memfs": [
                    {"name": "a", "enabled": True, "path": "/mnt"},
                    {"name": "b", "enabled": True, "path": "/mnt-foo"},
                    {"name": "c", "enabled": True, "path": "/mnt/inner"},
                    {"name": "d", "enabled": True, "path": "/deep/x/y"},
                ]
            }
        }
    )
    api = srv.client()
    api.put("/files", params={"path": "/mnt/file"}, content=b"outer")
    api.put("/files", params={"path": "/mnt-foo/file"}, content=b"foo")
    api.put("/files", params={"path": "/mnt/inner/file"}, content=b"inner")
    assert api.get("/files", params={"path": "/mnt/file"}).content == b"outer"
    assert api.get("/files", params={"path": "/mnt-foo/file"}).content == b"foo"
    assert api.get("/files", params={"path": "/mnt/inner/file"}).content == b"inner"
    # /mnt-foo is not /mnt: nothing of the other mount leaks in
    names = {f["name"] for f in api.get("/directories", params={"path": "/mnt"}).json()["files"]}
    assert names == {"README", "file", "inner"}
    inner = [
        f
        for f in api.get("/directories", params={"path": "/mnt"}).json()["files"]
        if f["name"] == "inner"
    ][0]
    assert inner["isDir"] and inner["meta"]["Type"] == "mount-point"
    root = api.get("/directories", params={"path": "/"}).json()["files"]
    assert {f["name"] for f in root} == {"mnt", "mnt-foo", "deep", "dev"}  # devfs: always
    assert all(
        f["meta"] == {"Name": "rootfs", "Type": "mount-point", "Content": None} for f in root
    )
    # virtual parents of /deep/x/y
    assert [
        f["name"] for f in api.get("/directories", params={"path": "/deep"}).json()["files"]
    ] == ["x"]
    st = api.get("/stat", params={"path": "/deep/x"}).json()
    assert st["isDir"] and st["name"] == "x" and st["meta"]["Type"] == "mount-point"
    assert api.get("/stat", params={"path": "/"}).json()["meta"]["Type"] == "root"
    assert api.get("/stat", params={"path": "/mnt"}).json()["name"] == "mnt"
    r = api.get("/files", params={"path": "/deep/x"})
    assert r.status_code == 404 and r.json() == {"error": "no such file or directory: /deep/x"}
    r = api.get("/files", params={"path": "/nowhere/f"})
    assert r.status_code == 404 and r.json() == {"error": "no such file or directory: /nowhere/f"}
    r = api.get("/directories", params={"path": "/nowhere"})
    assert r.json() == {"error": "no such file or directory: /nowhere"}
    # rename across mounts refused, mount points are never deleted
    r = api.post("/rename", params={"path": "/mnt/file"}, json={"newPath": "/mnt-foo/moved"})
    assert r.status_code == 400 and r.json() == {"error": "cannot rename across different mounts"}
    r = api.post("/rename", params={"path": "/mnt/file"}, json={"newPath": "/elsewhere/x"})
    assert r.status_code == 400
    r = api.delete("/files", params={"path": "/mnt", "recursive": "true"})
    assert r.status_code == 403 and "unmount" in r.json()["error"]
    assert api.delete("/files", params={"path": "/deep", "recursive": "true"}).status_code == 403
    assert api.delete("/files", params={"path": "/", "recursive": "true"}).status_code == 403
    assert api.get("/files", params={"path": "/mnt/file"}).content == b"outer"


def test_mount_and_unmount_at_run_time(start_server):
    srv = start_server({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    api = srv.client()
    r = api.post(
        "/mount",
        json={"fstype": "kvfs", "path": "/kv2/", "config": {"initial_data": {"a": "1", "b": 2}}},
    )
    assert r.status_code == 200 and r.json() == {"message": "plugin mounted"}
    assert api.get("/files", params={"path": "/kv2/keys/b"}).content == b"2"
    mounts = {m["path"]: m for m in api.get("/mounts").json()["mounts"]}
    assert mounts["/kv2"] == {
        "path": "/kv2",
        "pluginName": "kvfs",
        "config": {"initial_data": {"a": "1", "b": 2}},
        "status": "mounted",
        "shared": False,
    }
    assert mounts["/memfs"] == {
        "path": "/memfs", "pluginName": "memfs", "instance": "memfs", "status": "mounted",
        "shared": False,
    }
    r = api.post("/mount", json={"fstype": "kvfs", "path": "/kv2"})
    assert r.status_code == 409 and r.json() == {"error": "mount already exists: /kv2"}
    r = api.post("/mount", json={"fstype": "nope", "path": "/n"})
    assert r.status_code == 400 and r.json() == {"error": "unknown filesystem type: nope"}
    assert api.post("/mount", json={"path": "/n"}).json() == {"error": "fstype is required"}
    assert api.post("/mount", json={"fstype": "memfs"}).json() == {"error": "path is required"}
    assert api.post("/mount", content=b"[1,").status_code == 400
    r = api.post("/mount", json={"fstype": "memfs", "path": "/"})
    assert r.status_code == 400
    r = api.post("/unmount", json={"path": "/kv2"})
    assert r.status_code == 200 and r.json() == {"message": "plugin unmounted"}
    assert api.get("/files", params={"path": "/kv2/keys/b"}).status_code == 404
    r = api.post("/unmount", json={"path": "/kv2"})
    assert r.status_code == 404 and r.json() == {"error": "no mount at path: /kv2"}
    assert api.post("/unmount", json={}).json() == {"error": "path is required"}


def test_mount_config_rejected_with_message(start_server):
    srv = start_server({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    api = srv.client()
    r = api.post("/mount", json={"fstype": "memfs", "path": "/m2", "config": {"colour": "red"}})
    assert r.status_code == 400
    message = r.json()["error"]
    assert message.startswith("failed to validate plugin: memfs: unknown configuration parameter")
    assert "'colour'" in message and "init_dirs" in message
    r = api.post("/mount", json={"fstype": "memfs", "path": "/m2", "config": {"init_dirs": "x"}})
    assert r.status_code == 400 and "'init_dirs' must be a list" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "kvfs", "path": "/k", "config": {"read_only": "yes"}})
    assert r.status_code == 400
    assert "/m2" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


def test_unmount_waits_for_in_flight_stream(start_server):
    srv = start_server({"plugins": {"memfs": {"enabled": True, "path": "/m"},
                                    "devfs": {"enabled": False}}})
    api = srv.client(timeout=60)
    data = b"z" * (32 << 20)
    api.put("/files", params={"path": "/m/big"}, content=data)
    got = bytearray()
    with api.stream("GET", "/files", params={"path": "/m/big"}) as resp:
        it = resp.iter_bytes()
        got += next(it)
        done = threading.Event()

        def unmount():
            httpx.post(srv.api + "/unmount", json={"path": "/m"}, timeout=60)
            done.set()

        t = threading.Thread(target=unmount)
        t.start()
        for chunk in it:
            got += chunk
        t.join()
    assert done.is_set()
    assert bytes(got) == data
    assert api.get("/mounts").json()["mounts"] is None


def test_mount_listing_hides_credentials(api):
    from pfs.testing.server import free_port

    config = {"pfs_path": "/memfs", "port": free_port(), "token": "s3cret-token"}
    r = api.post("/mount", json={"fstype": "httpfs", "path": "/hidden-http", "config": config})
    assert r.status_code == 200, r.text
    try:
        listed = {m["path"]: m for m in api.get("/mounts").json()["mounts"]}
        shown = listed["/hidden-http"]["config"]
        assert shown["token"] == "********" and shown["pfs_path"] == "/memfs"
        assert "s3cret-token" not in api.get("/mounts").text
    finally:
        api.post("/unmount", json={"path": "/hidden-http"})
