"""The shipped systemd unit passes ``systemd-analyze verify`` (with ExecStart pointed at this
venv's pfs-server, since verify checks that the program exists)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "pfs-server.service"


def test_the_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    server = Path(sys.executable).with_name("pfs-server")
    assert server.exists()
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/pfs-server " in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text  # tests/server/test_reload.py
    unit = tmp_path / "pfs-server.service"
    unit.write_text(text.replace("/usr/local/bin/pfs-server", str(server)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    own = [line for line in done.stderr.splitlines() if "pfs-server.service" in line]
    assert done.returncode == 0 and not own, done.stderr


def test_a_broken_unit_fails_the_check(tmp_path):
    """The check can fail: a misspelt directive is reported."""
    unit = tmp_path / "pfs-server.service"
    server = Path(sys.executable).with_name("pfs-server")
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/pfs-server", str(server))
                    .replace("Restart=on-failure", "Restrat=on-failure"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert "Restrat" in done.stderr
