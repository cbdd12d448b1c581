"""SIGHUP makes pfs-server read its config file again: new mounts are mounted, gone ones
unmounted, changed ones remounted; a bad file is refused and every mount keeps running."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest
import yaml

from pfs.testing.server import ServerProcess

DONE = ("reload of ", "refused, mounts unchanged")


def memfs(*paths: str, **server: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"plugins": {"memfs": [{"enabled": True, "path": p} for p in paths]}}
    if server:
        config["server"] = server
    return config


def mounts(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Mounts by path, without /dev (devfs, on every server)."""
    listed = httpx.get(server.api + "/mounts").json()["mounts"]
    return {m["path"]: m for m in listed if m["path"] != "/dev"}


def reload_with(server: ServerProcess, config: Any) -> str:
    """Write ``config`` (a tree, or raw text) as the server's file, send SIGHUP to the main
    process as systemd's ExecReload does, and wait for the worker's last reload line; the log
    lines the reload wrote."""
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    server.config_path.write_text(text)
    before = server.log()
    done = sum(before.count(marker) for marker in DONE)
    os.kill(server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log = server.log()
        if sum(log.count(marker) for marker in DONE) > done:
            return log[len(before):]
        assert server.proc.poll() is None, log
        time.sleep(0.05)
    raise AssertionError("no reload line in the log:\n" + server.log())


def put(server: ServerProcess, path: str, data: bytes) -> None:
    response = httpx.put(server.api + "/files", params={"path": path}, content=data)
    assert response.status_code in (200, 201), response.text


def get(server: ServerProcess, path: str) -> httpx.Response:
    return httpx.get(server.api + "/files", params={"path": path})


@pytest.fixture
def server(start_server) -> ServerProcess:
    return start_server(memfs("/a", "/b"))


def test_sighup_mounts_new_and_unmounts_gone_entries(server):
    put(server, "/a/kept.txt", b"still here")
    pid = server.worker_pid()
    lines = reload_with(server, memfs("/a", "/c"))
    assert set(mounts(server)) == {"/a", "/c"}
    assert "unmounted /b" in lines and "mounted memfs at /c" in lines
    assert "1 mounted, 1 unmounted, 0 remounted" in lines
    # /a was left alone: same worker, same data.
    assert server.worker_pid() == pid
    assert get(server, "/a/kept.txt").content == b"still here"
    put(server, "/c/new.txt", b"x")
    assert get(server, "/c/new.txt").content == b"x"


def test_run_time_mounts_are_left_alone(server):
    def mount(fstype: str, path: str) -> None:
        response = httpx.post(server.api + "/mount", json={"fstype": fstype, "path": path})
        assert response.status_code in (200, 201), response.text

    mount("memfs", "/runtime")
    put(server, "/runtime/f", b"mine")
    # Both config entries leave the file; /a, unmounted by hand and taken at run time, stays.
    assert httpx.post(server.api + "/unmount", json={"path": "/a"}).status_code == 200
    mount("kvfs", "/a")
    lines = reload_with(server, {"plugins": {}})
    assert "0 mounted, 1 unmounted" in lines and "unmounted /a" not in lines
    assert set(mounts(server)) == {"/runtime", "/a"}
    assert mounts(server)["/a"]["pluginName"] == "kvfs"
    assert get(server, "/runtime/f").content == b"mine"


def test_sighup_remounts_a_changed_entry(server):
    put(server, "/b/old.txt", b"gone after the remount")
    config = memfs("/a")
    config["plugins"]["kvfs"] = {"enabled": True, "path": "/b"}
    lines = reload_with(server, config)
    assert mounts(server)["/b"]["pluginName"] == "kvfs"
    assert "remounted kvfs at /b" in lines
    assert get(server, "/b/old.txt").status_code == 404


def test_sighup_with_an_unchanged_file_changes_nothing(server):
    put(server, "/a/f", b"1")
    lines = reload_with(server, memfs("/a", "/b"))
    assert "0 mounted, 0 unmounted, 0 remounted" in lines
    assert get(server, "/a/f").content == b"1"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("plugins: [unclosed\n", "Failed to load config file"),
        (memfs("/a", "/c", no_such_key=1), "no_such_key"),
        ({"plugins": {"nosuchfs": {"enabled": True, "path": "/x"}}}, "unknown plugin 'nosuchfs'"),
        ({"plugins": {"memfs": {"enabled": True, "path": "/a"},
                      "queuefs": {"enabled": True, "path": "/q",
                                  "config": {"backend": "bogus"}}}}, "got 'bogus'"),
    ],
    ids=["unparsable", "invalid-setting", "unknown-plugin", "bad-plugin-config"],
)
def test_a_bad_file_is_refused_and_every_mount_keeps_running(server, bad, reason):
    put(server, "/b/f", b"kept")
    lines = reload_with(server, bad)
    refused = [line for line in lines.splitlines() if "refused, mounts unchanged" in line]
    assert len(refused) == 1 and reason in refused[0], lines
    assert set(mounts(server)) == {"/a", "/b"}
    assert get(server, "/b/f").content == b"kept"


def test_an_unreadable_file_is_refused(server):
    reload_with(server, memfs("/a", "/b"))  # a first reload that works
    server.config_path.unlink()
    server.config_path.mkdir()  # a directory where the file was: reading it fails
    os.kill(server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "refused, mounts unchanged" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "refused, mounts unchanged" in server.log()
    assert set(mounts(server)) == {"/a", "/b"}


def test_server_settings_are_reported_as_needing_a_restart(server):
    lines = reload_with(server, memfs("/a", "/b", max_open_handles=7))
    assert "server setting max_open_handles changed: needs a restart" in lines
    assert set(mounts(server)) == {"/a", "/b"}


def test_sighup_reloads_under_uvicorn_too(start_server):
    server = start_server(memfs("/a"), extra_args=["--server", "uvicorn"])
    lines = reload_with(server, memfs("/a", "/b"))
    assert "1 mounted, 0 unmounted, 0 remounted" in lines
    assert set(mounts(server)) == {"/a", "/b"}
