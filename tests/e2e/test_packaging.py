"""What ``pip install`` gives: the core (SDK, shell, fsspec) installs wheels only, no compiler
needed, and works against a running server; each missing extra is named in one line; ``[all]``
brings every extra's packages. Builds a fresh venv from this checkout (about 20 s)."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from pfs.extras import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[2]
# Distribution names of what each extra's modules come from.
DISTRIBUTION_OF_MODULE = {"re2": "google-re2", "nats": "nats-py"}


def canonical(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory):
    where = tmp_path_factory.mktemp("core-venv")
    venv.create(where, with_pip=True)
    report = where / "report.json"
    done = subprocess.run(
        [str(where / "bin" / "pip"), "install", "-q", "--report", str(report), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return where, json.loads(report.read_text())


def test_the_core_installs_only_wheels_and_no_server_or_back_end(core_venv):
    _, report = core_venv
    installed = {canonical(item["metadata"]["name"]): item["download_info"]["url"]
                 for item in report["install"]}
    built = {name: url for name, url in installed.items()
             if name != "pfs" and not url.endswith(".whl")}
    assert not built, f"built from source: {built}"
    for module in EXTRA_OF_MODULE:
        assert canonical(DISTRIBUTION_OF_MODULE.get(module, module)) not in installed, module


def test_the_core_shell_works_against_a_server(core_venv, server):
    done = subprocess.run(
        [str(core_venv[0] / "bin" / "pfs"), "--server", server.url, "ls", "/"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "memfs" in done.stdout


@pytest.mark.parametrize(("command", "line"), [
    (["pfs-server"], "pfs-server: the server needs the server extra (granian is missing): "
                     "pip install 'pfs[server]'"),
    (["pfs", "fuse", "--help"], "pfs: pfs fuse needs the fuse extra (pyfuse3 is missing): "
                                "pip install 'pfs[fuse]'"),
    (["pfs", "mcp", "--help"], "pfs: pfs mcp needs the mcp extra (mcp is missing): "
                               "pip install 'pfs[mcp]'"),
])
def test_a_missing_extra_is_named_in_one_line(core_venv, command, line):
    done = subprocess.run([str(core_venv[0] / "bin" / command[0]), *command[1:]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == line


def test_all_brings_every_extra(core_venv, tmp_path):
    report = tmp_path / "all.json"
    done = subprocess.run(
        [str(core_venv[0] / "bin" / "pip"), "install", "-q", "--dry-run", "--report", str(report),
         f"{ROOT}[all]"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    names = {canonical(item["metadata"]["name"])
             for item in json.loads(report.read_text())["install"]}
    for module in EXTRA_OF_MODULE:
        assert canonical(DISTRIBUTION_OF_MODULE.get(module, module)) in names, module


def test_every_builtin_plugin_loads_with_all_installed():
    """This venv has ``[test]``, which includes ``[all]``: every built-in plugin imports."""
    from pfs.plugins.registry import builtin_registry

    registry = builtin_registry()
    for name in registry.names():
        assert registry.get(name) is not None, name
    assert sys.modules.get("wasmtime") or __import__("wasmtime")
