"""A real client mounting our WebDAV: ``rclone mount`` (a FUSE mount through rclone's WebDAV
backend, basic auth carrying a write token) used with cp, ls, cat and an editor-style save
(write a temporary file, rename it over the original); the API sees every change."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.fuse import mounted, needs_fuse, read, sh

TOKEN = "dav-write-token"


@pytest.fixture
def pfs(start_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    return start_server(
        {
            "server": {"auth": {"tokens": [{"token": TOKEN, "role": "write"}]}},
            "plugins": {
                "memfs": {"enabled": True, "path": "/memfs"},
                "localfs": {"enabled": True, "path": "/local",
                            "config": {"local_dir": str(data)}},
            },
        }
    )


@pytest.fixture
def mount(pfs, tmp_path):
    """``rclone mount`` of ``/webdav/`` at tmp_path/mnt, without rclone's write cache (each close
    uploads at once), unmounted afterwards."""
    point = tmp_path / "mnt"
    point.mkdir()
    env = {**os.environ, "RCLONE_CONFIG": str(tmp_path / "rclone.conf")}
    obscured = subprocess.run(
        ["rclone", "obscure", TOKEN], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    remote = f":webdav,url='{pfs.url}/webdav',user=anyone,pass='{obscured}':/"
    log = open(tmp_path / "rclone.log", "wb")
    proc = subprocess.Popen(
        ["rclone", "mount", remote, str(point), "--vfs-cache-mode", "off",
         "--dir-cache-time", "0s", "-v"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    deadline = time.monotonic() + 20
    while not os.path.ismount(point):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("rclone mount did not mount:\n" + (tmp_path / "rclone.log").read_text())
        time.sleep(0.05)
    yield point
    subprocess.run(["fusermount", "-u", str(point)], check=False)
    proc.wait(20)
    if mounted(point):
        subprocess.run(["umount", "-l", str(point)], check=False)
    log.close()


@needs_fuse
def test_rclone_mount_cp_ls_and_editor_save(pfs, mount, tmp_path):
    api = pfs.client(headers={"Authorization": f"Bearer {TOKEN}"})
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 << 20) + b"end")
    sh(f"cp {source} memfs/big.bin && cp {source} local/big.bin", cwd=mount)
    assert read(api, "/memfs/big.bin") == source.read_bytes()
    assert read(api, "/local/big.bin") == source.read_bytes()
    listing = sh("ls -l memfs", cwd=mount).stdout
    assert "big.bin" in listing and str((3 << 20) + 3) in listing
    assert sh("ls", cwd=mount).stdout.split() == ["dev", "local", "memfs"]

    # An editor's save: the new text goes to a temporary file renamed over the original.
    sh("printf 'draft\\n' > memfs/notes.txt", cwd=mount)
    sh("printf 'final\\n' > memfs/.notes.txt.swp && mv memfs/.notes.txt.swp memfs/notes.txt",
       cwd=mount)
    assert read(api, "/memfs/notes.txt") == b"final\n"
    assert sh("cat memfs/notes.txt", cwd=mount).stdout == "final\n"
    assert ".notes.txt.swp" not in sh("ls -a memfs", cwd=mount).stdout

    # Across mounts: mv is a WebDAV MOVE the server does as copy + delete.
    sh("mkdir local/docs && mv memfs/notes.txt local/docs/notes.txt", cwd=mount)
    assert read(api, "/local/docs/notes.txt") == b"final\n"
    assert api.get("/stat", params={"path": "/memfs/notes.txt"}).status_code == 404
    assert (Path(mount) / "local/docs/notes.txt").read_text() == "final\n"
