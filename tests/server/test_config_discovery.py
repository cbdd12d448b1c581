"""Where pfs-server finds its config: -c, $PFS_CONFIG, ./pfs.yaml, ~/.config/pfs/config.yaml,
/etc/pfs/config.yaml, the built-in default; the start-up log says which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from pfs.server.config_source import find_config
from pfs.testing.server import ServerProcess


def config_with(mount: str) -> str:
    return yaml.safe_dump({"server": {"log_level": "info"},
                           "plugins": {"memfs": {"enabled": True, "path": mount}}})


def mounts(server: ServerProcess) -> set[str]:
    """The configured mount paths (/dev, devfs, is on every server)."""
    return {m["path"] for m in httpx.get(server.api + "/mounts").json()["mounts"]} - {"/dev"}


def test_pfs_config_names_the_file(tmp_path):
    (tmp_path / "from-env.yaml").write_text(config_with("/fromenv"))
    with ServerProcess(None, discover_config=True, cwd=tmp_path,
                       env={"PFS_CONFIG": str(tmp_path / "from-env.yaml")}) as server:
        assert mounts(server) == {"/fromenv"}
        assert f"config: {tmp_path / 'from-env.yaml'} (from $PFS_CONFIG)" in server.log()


def test_dash_c_wins_over_the_environment_and_the_working_directory(tmp_path):
    (tmp_path / "pfs.yaml").write_text(config_with("/fromcwd"))
    (tmp_path / "env.yaml").write_text(config_with("/fromenv"))
    (tmp_path / "explicit.yaml").write_text(config_with("/explicit"))
    with ServerProcess(None, discover_config=True, cwd=tmp_path,
                       env={"PFS_CONFIG": str(tmp_path / "env.yaml")},
                       extra_args=["-c", str(tmp_path / "explicit.yaml")]) as server:
        assert mounts(server) == {"/explicit"}


def test_pfs_yaml_in_the_working_directory_then_the_user_config(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pfs").mkdir(parents=True)
    (home / ".config" / "pfs" / "config.yaml").write_text(config_with("/fromhome"))
    work = tmp_path / "work"
    work.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": ""}
    with ServerProcess(None, discover_config=True, cwd=work, env=env) as server:
        assert mounts(server) == {"/fromhome"}
        assert "(from ~/.config/pfs/config.yaml)" in server.log()
    (work / "pfs.yaml").write_text(config_with("/fromcwd"))
    with ServerProcess(None, discover_config=True, cwd=work, env=env) as server:
        assert mounts(server) == {"/fromcwd"}
        assert "(from ./pfs.yaml)" in server.log()


def test_a_missing_pfs_config_file_stops_the_server_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pfs.server.cli", "-addr", "127.0.0.1:0"],
        env={**os.environ, "PFS_CONFIG": str(tmp_path / "nope.yaml")},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    missing = tmp_path / "nope.yaml"
    assert done.stderr.strip().splitlines() == [
        f"pfs-server: Failed to load config file: {missing}: No such file or directory"
    ]


def test_the_search_order_in_process(tmp_path):
    cwd, home, system = tmp_path / "cwd", tmp_path / "home", tmp_path / "etc" / "config.yaml"
    cwd.mkdir()
    (home / ".config" / "pfs").mkdir(parents=True)
    assert find_config(None, environ={}, cwd=cwd, home=home, system=system).path is None
    system.parent.mkdir()
    system.write_text("{}")
    assert find_config(None, environ={}, cwd=cwd, home=home, system=system).path == system
    user = home / ".config" / "pfs" / "config.yaml"
    user.write_text("{}")
    assert find_config(None, environ={}, cwd=cwd, home=home, system=system).path == user
    xdg = tmp_path / "xdg"
    (xdg / "pfs").mkdir(parents=True)
    (xdg / "pfs" / "config.yaml").write_text("{}")
    found = find_config(None, environ={"XDG_CONFIG_HOME": str(xdg)}, cwd=cwd, home=home,
                        system=system)
    assert found.path == xdg / "pfs" / "config.yaml"
    (cwd / "pfs.yaml").write_text("{}")
    assert find_config(None, environ={}, cwd=cwd, home=home, system=system).path == cwd / "pfs.yaml"
    assert find_config("x.yaml", environ={"PFS_CONFIG": "y"}).path == Path("x.yaml")
