"""AGFS's own Python SDK (pyagfs) against the status side: health with the readiness fields,
mounts with their status, plugins in both shapes, devfs, heartbeatfs's keepalive by touch."""

from __future__ import annotations

import pytest
from pyagfs import AGFSClient

from pfs.testing.server import ServerProcess

CONFIG = {"plugins": {
    "memfs": {"enabled": True, "path": "/memfs"},
    "heartbeatfs": {"enabled": True, "path": "/hb"},
}}


@pytest.fixture(scope="module")
def agfs():
    with ServerProcess(CONFIG) as srv:
        client = AGFSClient(srv.url)
        yield client
        client.session.close()


def test_health_and_mounts(agfs):
    health = agfs.health()
    assert health["status"] == "healthy" and health["ready"] is True
    assert health["mounts"] == {"total": 3, "pending": 0, "mounted": 3, "failed": 0}
    mounts = {m["path"]: m for m in agfs.mounts()}
    assert list(mounts) == ["/dev", "/hb", "/memfs"]
    assert all(m["status"] == "mounted" for m in mounts.values())


def test_plugins_in_both_shapes(agfs):
    assert agfs.list_plugins() == []  # the original's shape, the default
    # pyagfs cannot ask for AGFS's shape itself; an Accept header on its session does.
    agfs.session.headers["Accept"] = "application/vnd.agfs.plugins+json"
    try:
        info = {p["name"]: p for p in agfs.get_plugins_info()}
        assert agfs.list_plugins() == []  # no external plugins either way
        assert agfs.cat("/dev/null") == b""  # the header changes nothing else
    finally:
        del agfs.session.headers["Accept"]
    assert info["heartbeatfs"]["mounted_paths"] == [{"path": "/hb"}]
    assert info["devfs"]["is_external"] is False


def test_dev_null_and_heartbeat_touch(agfs):
    assert agfs.write("/dev/null", b"gone") == "Written 4 bytes"
    assert agfs.cat("/dev/null") == b""
    agfs.mkdir("/hb/job")
    before = agfs.stat("/hb/job/keepalive")["modTime"]
    agfs.touch("/hb/job/keepalive")
    assert agfs.stat("/hb/job/keepalive")["modTime"] >= before
    assert "status: alive" in agfs.cat("/hb/job/ctl").decode()
