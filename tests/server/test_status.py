"""/health, /ready, /version, /capabilities, the status fields of /mounts and AGFS's /plugins
shape, through the real server."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.gated_plugin import gated_site

MEMFS = {"memfs": {"enabled": True, "path": "/memfs"}}


def client(srv: ServerProcess) -> httpx.Client:
    return srv.client(timeout=30)


def settle(api: httpx.Client, want: int, attempts: int = 600) -> httpx.Response:
    """``/ready`` once it answers ``want`` (a bounded wait for the background mounts)."""
    for _ in range(attempts):
        response = api.get("/ready")
        if response.status_code == want:
            return response
        time.sleep(0.05)
    raise AssertionError(f"/ready never answered {want}: {response.text}")


def by_path(api: httpx.Client) -> dict[str, dict]:
    return {m["path"]: m for m in api.get("/mounts").json()["mounts"]}


def test_healthy_server_reports_its_mounts(start_server):
    api = client(start_server({"plugins": MEMFS}))
    health = api.get("/health").json()
    assert list(health) == ["status", "version", "gitCommit", "buildTime", "ready", "degraded",
                            "mounts"]
    assert health["status"] == "healthy" and health["ready"] and not health["degraded"]
    # /dev (devfs, always there) and the configured memfs.
    assert health["mounts"] == {"total": 2, "pending": 0, "mounted": 2, "failed": 0}
    ready = api.get("/ready")
    assert ready.status_code == 200 and ready.json() == health
    assert api.post("/ready").status_code == 405
    assert api.post("/health").status_code == 200  # any method, as the original's
    version = api.get("/version").json()
    assert version == {k: health[k] for k in ("buildTime", "gitCommit", "version")}


def test_slow_mount_is_pending_and_ready_waits_for_it(start_server, tmp_path):
    gate = tmp_path / "gate"
    site = tmp_path / "site"
    site.mkdir()
    gated_site(site)
    python_path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    srv = start_server(
        {"plugins": {**MEMFS, "gatedfs": {"enabled": True, "path": "/slow",
                                          "config": {"gate": str(gate)}}}},
        env={"PYTHONPATH": python_path}, wait=False,
    )
    srv.wait_up()
    api = client(srv)
    for _ in range(600):  # /dev and memfs start at once; gatedfs waits for its gate
        health = api.get("/health").json()
        if health["mounts"]["mounted"] == 2:
            break
        time.sleep(0.05)
    assert health["status"] == "starting" and not health["ready"] and not health["degraded"]
    assert health["mounts"] == {"total": 3, "pending": 1, "mounted": 2, "failed": 0}
    r = api.get("/ready")
    assert r.status_code == 503 and r.json()["mounts"]["pending"] == 1
    assert by_path(api)["/slow"] == {"path": "/slow", "pluginName": "gatedfs",
                                     "instance": "gatedfs", "status": "pending",
                                     "shared": False, "config": {"gate": str(gate)}}
    # The server serves the mounts that are up meanwhile.
    assert api.put("/files", params={"path": "/memfs/a"}, content=b"up").status_code == 200
    assert api.get("/stat", params={"path": "/slow"}).status_code == 404
    gate.touch()
    assert settle(api, 200).json()["status"] == "healthy"
    assert by_path(api)["/slow"]["status"] == "mounted"
    assert api.get("/stat", params={"path": "/slow"}).json()["isDir"] is True


def test_failed_mount_degrades_and_a_run_time_mount_repairs_it(start_server, tmp_path):
    missing = tmp_path / "later"
    srv = start_server(
        {"plugins": {**MEMFS, "localfs_data": {"enabled": True, "path": "/data",
                                               "config": {"local_dir": str(missing)}}}},
        wait=False,
    )
    srv.wait_up(settled=True)
    api = client(srv)
    r = api.get("/ready")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded" and r.json()["degraded"] is True
    assert r.json()["mounts"] == {"total": 3, "pending": 0, "mounted": 2, "failed": 1}
    failed = by_path(api)["/data"]
    assert failed["status"] == "failed" and failed["instance"] == "localfs_data"
    assert "base path does not exist" in failed["error"]
    assert failed["config"] == {"local_dir": str(missing)}
    assert api.get("/files", params={"path": "/data/x"}).status_code == 404
    assert api.get("/health").status_code == 200
    # Mounting the path by hand once the directory exists updates the same entry.
    missing.mkdir()
    r = api.post("/mount", json={"fstype": "localfs", "path": "/data",
                                 "config": {"local_dir": str(missing)}})
    assert r.status_code == 200, r.text
    assert [m["path"] for m in api.get("/mounts").json()["mounts"]].count("/data") == 1
    entry = by_path(api)["/data"]
    assert entry["status"] == "mounted" and "error" not in entry
    assert api.get("/ready").status_code == 200
    # A start-up mount unmounted by hand is no longer counted.
    assert api.post("/unmount", json={"path": "/data"}).status_code == 200
    assert "/data" not in by_path(api)
    assert api.get("/health").json()["mounts"]["total"] == 2


def test_mounts_sorted_with_status_and_hidden_credentials(start_server):
    srv = start_server({"plugins": {
        "memfs": [{"name": "zeta", "enabled": True, "path": "/zeta"},
                  {"name": "alpha", "enabled": True, "path": "/alpha"}],
        "kvfs": {"enabled": True, "path": "/kv", "config": {"backend": "memory"}},
    }})
    api = client(srv)
    mounts = api.get("/mounts").json()["mounts"]
    assert [m["path"] for m in mounts] == ["/alpha", "/dev", "/kv", "/zeta"]
    assert mounts[0] == {"path": "/alpha", "pluginName": "memfs", "instance": "alpha",
                         "status": "mounted", "shared": False}
    assert mounts[2]["config"] == {"backend": "memory"}
    # A run-time mount: mounted, no instance.
    assert api.post("/mount", json={"fstype": "memfs", "path": "/run2"}).status_code == 200
    listed = {m["path"]: m for m in api.get("/mounts").json()["mounts"]}
    assert listed["/run2"] == {"path": "/run2", "pluginName": "memfs", "status": "mounted",
                               "shared": False}


def test_devfs_switched_off_or_moved(start_server):
    off = client(start_server({"plugins": {**MEMFS, "devfs": {"enabled": False}}}))
    assert [m["path"] for m in off.get("/mounts").json()["mounts"]] == ["/memfs"]
    assert off.get("/health").json()["mounts"]["total"] == 1
    moved = client(start_server({"plugins": {"devfs": {"enabled": True, "path": "/devices"}}}))
    assert [m["path"] for m in moved.get("/mounts").json()["mounts"]] == ["/devices"]
    assert moved.get("/files", params={"path": "/devices/null"}).content == b""
    # Another plugin configured at /dev takes its place.
    taken = client(start_server({"plugins": {"memfs": {"enabled": True, "path": "/dev"}}}))
    assert [(m["path"], m["pluginName"]) for m in taken.get("/mounts").json()["mounts"]] == [
        ("/dev", "memfs")]
    assert taken.get("/ready").status_code == 200


def test_capabilities_shape_and_per_path_answers(start_server):
    api = client(start_server({"plugins": {
        **MEMFS,
        "memfs_ro": {"enabled": True, "path": "/ro", "read_only": True},
        "queuefs": {"enabled": True, "path": "/q", "config": {"backend": "memory"}},
        "streamfs": {"enabled": True, "path": "/s"},
    }}))
    plain = api.get("/capabilities").json()
    assert set(plain) == {"version", "features"}
    assert {"touch", "handlefs"} <= set(plain["features"])

    def caps(path: str) -> dict:
        r = api.get("/capabilities", params={"path": path})
        assert r.status_code == 200, r.text
        return r.json()

    memfs = caps("/memfs/new-file")
    assert memfs["supportsRandomWrite"] and memfs["supportsTouch"] and memfs["supportsTruncate"]
    assert memfs["supportsFileHandle"]
    assert not memfs["isReadDestructive"] and not memfs["isBroadcast"]
    assert memfs["mount"] == "/memfs"
    read_only = caps("/ro")
    assert read_only["readOnly"] and not read_only["supportsRandomWrite"]
    assert not read_only["supportsTouch"] and not read_only["supportsFileHandle"]
    assert api.post("/directories", params={"path": "/q/jobs"}).status_code in (200, 201)
    dequeue = caps("/q/jobs/dequeue")
    assert dequeue["isReadDestructive"] and not dequeue["isBroadcast"]
    assert not caps("/q/jobs/size")["isReadDestructive"]
    api.put("/files", params={"path": "/s/live"}, content=b"x")
    live = caps("/s/live")
    assert live["isBroadcast"] and live["supportsStreamRead"] and live["supportsFileHandle"]
    assert not caps("/memfs")["supportsStreamRead"]
    r = api.get("/capabilities", params={"path": "/nowhere/x"})
    assert r.status_code == 404
    assert api.post("/capabilities").status_code == 405


def test_plugins_agfs_shape_by_query_or_accept(start_server):
    api = client(start_server({"plugins": {**MEMFS, "heartbeatfs": {
        "enabled": True, "path": "/hb", "config": {"default_timeout": 60}}}}))
    assert api.get("/plugins").json() == {"loaded_plugins": []}  # the original's, by default
    by_query = api.get("/plugins", params={"format": "agfs"}).json()
    by_accept = api.get("/plugins", headers={"Accept": "application/vnd.agfs.plugins+json"})
    assert by_accept.json() == by_query
    plugins = {p["name"]: p for p in by_query["plugins"]}
    assert {"memfs", "devfs", "heartbeatfs", "kvfs", "queuefs"} <= set(plugins)
    assert plugins["memfs"]["mounted_paths"] == [{"path": "/memfs"}]
    assert plugins["memfs"]["is_external"] is False and "library_path" not in plugins["memfs"]
    assert plugins["kvfs"]["mounted_paths"] is None
    assert plugins["heartbeatfs"]["mounted_paths"] == [
        {"path": "/hb", "config": {"default_timeout": 60}}]
    assert plugins["heartbeatfs"]["config_params"] == [{
        "name": "default_timeout", "type": "duration", "required": False, "default": "300",
        "description": plugins["heartbeatfs"]["config_params"][0]["description"]}]
    assert "config_params" not in plugins["hellofs"]
    names = {p["name"] for p in plugins["memfs"]["config_params"]}
    assert "max_file_size" in names
    r = api.get("/plugins", params={"format": "xml"})
    assert r.status_code == 400 and "format" in r.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/ready", "/api/v1/version"])
def test_probes_need_no_token(start_server, path):
    srv = start_server({"server": {"auth": {"tokens": [{"token": "t0ken", "role": "read"}]}},
                        "plugins": MEMFS})
    assert httpx.get(srv.url + path).status_code == 200
    assert httpx.get(srv.api + "/capabilities").status_code == 401


def test_failed_mount_listing_hides_credentials(start_server):
    from pfs.testing.server import free_port

    port = free_port()  # nothing listens: the queue's database never answers
    srv = start_server({"plugins": {**MEMFS, "queuefs": {
        "enabled": True, "path": "/q",
        "config": {"backend": "mysql", "host": "127.0.0.1", "port": port,
                   "password": "hunter2-secret"}}}}, wait=False)
    srv.wait_up(settled=True, timeout=120)
    api = client(srv)
    entry = by_path(api)["/q"]
    assert entry["status"] == "failed" and f"127.0.0.1:{port}" in entry["error"]
    assert entry["config"]["password"] == "********"
    assert "hunter2-secret" not in api.get("/mounts").text
    assert api.get("/ready").status_code == 503


def test_versions_agree_and_a_checkout_names_its_commit(start_server):
    """serverinfofs, /health, /version and pfs-server --version say the same version; run from
    this git checkout, the commit is the checkout's HEAD instead of 'unknown'."""
    import subprocess
    import sys
    from pathlib import Path

    from pfs import __version__

    server = start_server({"plugins": {"serverinfofs": {"enabled": True, "path": "/s"}}})
    api = server.client()
    head = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short",
                           "HEAD"], capture_output=True, text=True).stdout.strip()
    assert head
    assert api.get("/version").json() == {"buildTime": "unknown", "gitCommit": head,
                                         "version": __version__}
    assert api.get("/health").json()["gitCommit"] == head
    assert api.get("/files", params={"path": "/s/version"}).text == f"{__version__}\n"
    printed = subprocess.run([sys.executable, "-m", "pfs.server.cli", "--version"],
                             capture_output=True, text=True).stdout
    assert f"pfs-server version: {__version__}\nGit commit: {head}\n" in printed
