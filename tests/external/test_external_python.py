"""Python plugins by entry point: pip-install the example package, and its fstype is mountable."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.external import EXAMPLES

CONFIG = {"plugins": {"pyhello": {"enabled": True, "path": "/py",
                                  "config": {"greeting": "Hi from an entry point"}}}}


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path_factory.mktemp("src") / "python-hello"
    shutil.copytree(EXAMPLES / "python-hello", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return target


def test_installed_entry_point_plugin_mounts_and_reads(site_dir, start_server):
    srv = start_server(CONFIG, env={"PYTHONPATH": str(site_dir)})
    api = srv.client(timeout=30)
    mounts = {m["path"]: m["pluginName"] for m in api.get("/mounts").json()["mounts"]}
    assert mounts["/py"] == "pyhello"
    r = api.get("/files", params={"path": "/py/hello"})
    assert (r.status_code, r.content) == (200, b"Hi from an entry point\n")
    assert [e["name"] for e in api.get("/directories", params={"path": "/py"}).json()["files"]] \
        == ["hello"]
    r = api.put("/files", params={"path": "/py/hello"}, content=b"x")
    assert r.status_code == 403
    # Mounted at run time too, with its config schema checked like a built-in's.
    r = api.post("/mount", json={"fstype": "pyhello", "path": "/py2", "config": {"greeting": 5}})
    assert r.status_code == 400 and "greeting" in r.json()["error"]
    assert api.post("/mount", json={"fstype": "pyhello", "path": "/py2"}).status_code == 200
    assert api.get("/files", params={"path": "/py2/hello"}).content == b"Hello from Python!\n"


def test_entry_point_plugins_can_be_switched_off(site_dir, start_server):
    """Also what "not installed" means, whatever the venv holds (installing python-hello there,
    as its README says, must not change a test): with other packages' entry points off, a
    config naming pyhello stops start-up even with the package on the path."""
    off = {"python_entry_points": False}
    proc = ServerProcess({**CONFIG, "external_plugins": off},
                         env={"PYTHONPATH": str(site_dir)}, wait=False)
    try:
        assert proc.proc.wait(60) == 2
        assert "unknown plugin 'pyhello'" in proc.log()
    finally:
        proc.close()
    srv = start_server({"external_plugins": off,
                        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}}},
                       env={"PYTHONPATH": str(site_dir)})
    api = srv.client(timeout=30)
    r = api.post("/mount", json={"fstype": "pyhello", "path": "/py"})
    assert (r.status_code, r.json()) == (400, {"error": "unknown filesystem type: pyhello"})
    # The built-in plugins, registered the same way, stay available.
    assert api.post("/mount", json={"fstype": "kvfs", "path": "/kv"}).status_code == 200
