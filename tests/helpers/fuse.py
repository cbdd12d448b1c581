"""A real `pfs fuse` mount for tests, and the shell runner the FUSE tests share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or os.geteuid() != 0,
    reason="needs /dev/fuse and root (scripts/system-deps.sh installs fuse3)",
)

PFS = str(Path(sys.executable).parent / "pfs")  # the console script: `pfs fuse ...`


class Mount:
    """A `pfs fuse` process with its mount point; stopped with a signal, checked unmounted."""

    def __init__(self, server_url: str, mountpoint: Path, *extra: str) -> None:
        self.path = mountpoint
        mountpoint.mkdir(exist_ok=True)
        self.log_path = mountpoint.parent / f"{mountpoint.name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PFS, "fuse", str(mountpoint), "--server", server_url, *extra],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not os.path.ismount(mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pfs fuse did not mount:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if mounted(self.path):  # only after a crash: never leave a dead mount behind
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        self._log.close()
        return self.proc.returncode


def mounted(path: Path) -> bool:
    """Also true of a dead mount, where os.path.ismount fails (ENOTCONN) and says no."""
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


def sh(script: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def read(api: httpx.Client, path: str) -> bytes:
    response = api.get("/files", params={"path": path})
    assert response.status_code == 200, response.text
    return response.content
