"""``pfs-server --check-config`` and ``/mounts``'s ``shared``: which mounts keep their state in
an engine every server reaches (shared) and which in the server itself (per-server), as the
plugins declare it."""

from __future__ import annotations

import subprocess
import sys

import httpx
import yaml

from pfs.testing.postgres import Postgres
from tests.helpers.queuefs import require_postgres, scratch_database

PLUGINS = {
    "memfs": {"enabled": True, "path": "/memfs"},
    "streamfs": {"enabled": True, "path": "/streamfs"},
    "queuefs": [
        {"name": "local", "enabled": True, "path": "/q-mem", "config": {"backend": "memory"}},
        {"name": "pg", "enabled": True, "path": "/q-pg",
         "config": {"backend": "postgres", "database": "pfs_never_opened"}},
    ],
    "kvfs": {"enabled": True, "path": "/kv", "config": {"backend": "mysql", "database": "kvdb"}},
    "sqlfs": {"enabled": True, "path": "/sqlfs", "config": {"backend": "sqlite"}},
    "s3fs": {"enabled": True, "path": "/s3",
             "config": {"bucket": "b", "endpoint": "http://127.0.0.1:1"}},
}


def check(tmp_path, plugins: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "pfs.yaml"
    path.write_text(yaml.safe_dump({"plugins": plugins}))
    return subprocess.run(
        [sys.executable, "-m", "pfs.server.cli", "--check-config", "-c", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def test_check_config_says_which_mounts_are_shared(tmp_path):
    """No database is contacted: the report comes from the config alone."""
    done = check(tmp_path, PLUGINS)
    assert done.returncode == 0, done.stderr
    kinds = {line.split()[0]: line.split()[2] for line in done.stdout.splitlines()[1:-1]}
    assert kinds == {
        "/dev": "per-server", "/memfs": "per-server", "/streamfs": "per-server",
        "/q-mem": "per-server", "/q-pg": "shared", "/kv": "shared", "/sqlfs": "per-server",
        "/s3": "shared",
    }
    assert "backend postgres" in done.stdout
    assert done.stdout.splitlines()[-1] == "8 mounts: 3 shared, 5 per-server"


def test_check_config_refuses_a_bad_config_with_2(tmp_path):
    done = check(tmp_path, {"kvfs": {"enabled": True, "path": "/kv",
                                     "config": {"backend": "oracle"}}})
    assert done.returncode == 2
    assert "'backend' must be one of" in done.stderr and "postgres" in done.stderr
    assert done.stdout == ""


def test_mounts_lists_shared(start_server):
    require_postgres()
    with scratch_database("postgres", "pfs_check_config") as database:
        proc = start_server({"plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "queuefs": {"enabled": True, "path": "/q", "config": Postgres().config(database)},
        }})
        with httpx.Client(base_url=proc.api) as api:
            mounts = {m["path"]: m for m in api.get("/mounts").json()["mounts"]}
            assert (mounts["/memfs"]["shared"], mounts["/q"]["shared"]) == (False, True)
            r = api.post("/mount", json={"fstype": "kvfs", "path": "/kv2",
                                         "config": Postgres().config(database)})
            assert r.status_code == 200, r.text
            r = api.post("/mount", json={"fstype": "kvfs", "path": "/kv3"})
            assert r.status_code == 200, r.text
            mounts = {m["path"]: m for m in api.get("/mounts").json()["mounts"]}
            assert (mounts["/kv2"]["shared"], mounts["/kv3"]["shared"]) == (True, False)
            api.post("/unmount", json={"path": "/kv2"})
