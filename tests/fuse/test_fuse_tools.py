"""Ordinary tools over a real `pfs fuse` mount: walkers, killed readers, tar and rsync."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pfs.testing.fixtures import server_fixture
from tests.helpers.fuse import Mount, needs_fuse, read, sh

pytestmark = needs_fuse

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queuefs"},
        "streamfs": {"enabled": True, "path": "/streamfs"},
    }
}

server = server_fixture(CONFIG)


@pytest.fixture(scope="module")
def mnt(server, tmp_path_factory):
    # The default --ttl (1 s): attributes are cached as they are for every user.
    mount = Mount(server.url, tmp_path_factory.mktemp("fuse") / "mnt")
    yield mount.path
    assert mount.stop() == 0, mount.log()


def wait_for_readers(api: httpx.Client, path: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        meta = api.get("/stat", params={"path": path}).json()["meta"]
        if meta["Content"]["active_readers"] == str(count):
            return
        assert time.monotonic() < deadline, meta
        time.sleep(0.05)


def wait_for_fuse_request(pid: int) -> None:
    """Until ``pid`` sleeps in the kernel waiting for the FUSE daemon's answer."""
    deadline = time.monotonic() + 20
    while "wait_answer" not in Path(f"/proc/{pid}/wchan").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_walkers_never_consume_queue_messages_nor_follow_streams(mnt, api, tmp_path):
    """grep -r, find, tar, cp -r and rsync over queuefs leave its 3 messages queued; listings
    omit dequeue, which still answers by name. A walk of streamfs ends instead of following a
    stream forever."""
    for n in range(3):
        api.put("/files", params={"path": "/queuefs/walk/enqueue"}, content=f"m{n}".encode())
    api.put("/files", params={"path": "/streamfs/endless"}, content=b"x history\n")
    walks = [
        "grep -r x queuefs streamfs",
        "find queuefs streamfs -type f",
        "tar -cf /dev/null queuefs streamfs",
        "tar -cf - queuefs streamfs | wc -c",
        f"cp -r queuefs {tmp_path}/cp",
        f"rsync -r queuefs/ {tmp_path}/rsync/",
    ]
    for walk in walks:
        walker = subprocess.Popen(["bash", "-c", walk], cwd=mnt, stderr=subprocess.DEVNULL)
        try:
            # Exit codes are not checked: enqueue is write-only, so some tools report EACCES.
            walker.wait(60)
        finally:
            if walker.poll() is None:  # it follows the stream: end it, or the walker never dies
                api.put("/files", params={"path": "/streamfs/.close"}, content=b"endless")
                walker.kill()
                walker.wait()
        assert walker.returncode is not None and read(api, "/queuefs/walk/size") == b"3", walk
    assert "dequeue" not in sh("ls queuefs/walk", mnt).stdout.split()
    assert "endless" not in sh("ls streamfs", mnt).stdout.split()
    assert json.loads(sh("cat queuefs/walk/dequeue", mnt).stdout)["data"] == "m0"
    assert read(api, "/queuefs/walk/size") == b"2"


def test_killed_reader_of_an_idle_stream_exits_and_unmount_does_not_wait(server, api, tmp_path):
    """cat of a stream nobody writes to dies of SIGINT and of SIGKILL within 2 s (it was stuck in
    D state); umount then finishes at once; stopping pfs fuse ends a reader still waiting."""
    api.put("/files", params={"path": "/streamfs/idle"}, content=b"before\n")
    mount = Mount(server.url, tmp_path / "mnt")
    try:
        for sig in (signal.SIGINT, signal.SIGKILL):
            reader = subprocess.Popen(["cat", str(mount.path / "streamfs/idle")])
            wait_for_readers(api, "/streamfs/idle", 1)
            wait_for_fuse_request(reader.pid)
            reader.send_signal(sig)
            started = time.monotonic()
            try:
                reader.wait(2)
            finally:
                reader.kill()
            assert time.monotonic() - started < 2
        wait_for_readers(api, "/streamfs/idle", 0)
        umount = subprocess.run(["umount", str(mount.path)], capture_output=True, timeout=10)
        assert umount.returncode == 0, umount.stderr
        assert mount.proc.wait(10) == 0, mount.log()
    finally:
        mount.stop()

    mount = Mount(server.url, tmp_path / "mnt2")
    reader = subprocess.Popen(["cat", str(mount.path / "streamfs/idle")], stdout=subprocess.PIPE)
    try:
        wait_for_readers(api, "/streamfs/idle", 1)
        wait_for_fuse_request(reader.pid)
        started = time.monotonic()
        assert mount.stop() == 0, mount.log()
        assert time.monotonic() - started < 5
        reader.wait(5)
    finally:
        reader.kill()
        reader.wait()
        reader.stdout.close()
    assert not os.path.ismount(mount.path)


def test_a_write_refreshes_the_directory_attributes_at_once(mnt):
    """Each change through the mount drops the cached attributes of the file and of its
    directory, here and in the kernel, so the directory's new time shows at once instead of
    when a stale cached time expires (which made tar report "file changed as we read it")."""
    sh("mkdir -p memfs/fresh", mnt)
    directory = Path(mnt) / "memfs" / "fresh"
    for n in range(5):
        before = os.stat(directory).st_mtime_ns  # cached for --ttl (1 s)
        time.sleep(0.02)
        sh(f"echo {n} > memfs/fresh/new{n}", mnt)
        assert os.stat(directory).st_mtime_ns > before


def test_tar_right_after_a_write_sees_nothing_change(mnt, tmp_path):
    """tar -czf right after a write through the mount never reports "file changed as we read
    it": the cached listing of the mount root held the directory's time from before the write,
    and an opendir of the root put it back into the attributes while tar read 16 MiB (seen in
    most runs of this loop before the fix)."""
    sh("mkdir -p memfs/tarnow && head -c 16M /dev/urandom > memfs/tarnow/big", mnt)
    failed = []
    for n in range(12):
        result = sh(
            f"echo {n} > memfs/tarnow/new{n} && ls -ld memfs/tarnow > /dev/null"
            f" && tar -czf {tmp_path}/{n}.tgz -C memfs tarnow",
            mnt,
            check=False,
        )
        if result.returncode != 0:
            failed.append((n, result.stderr))
    assert not failed


def test_rsync_a_twice_transfers_nothing_the_second_time(mnt, api, tmp_path):
    """rsync -a sets each file's mtime through the mount (POST /touch), so a second run finds
    every file up to date."""
    src = tmp_path / "src"
    (src / "d/e").mkdir(parents=True)
    for name in ("a.txt", "d/b.txt", "d/e/c.bin"):
        (src / name).write_bytes(os.urandom(1000))
    os.utime(src / "a.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    runs = [
        sh(f"rsync -a --stats {src}/ memfs/rsync/", mnt).stdout,
        sh(f"rsync -a --stats {src}/ memfs/rsync/", mnt).stdout,
    ]
    assert "Number of regular files transferred: 3" in runs[0]
    assert "Number of regular files transferred: 0" in runs[1], runs[1]
    mtime = api.get("/stat", params={"path": "/memfs/rsync/a.txt"}).json()["modTime"]
    assert mtime.startswith("2020-09-13T12:26:40.123456789")
    assert (mnt / "memfs/rsync/a.txt").stat().st_mtime_ns == 1_600_000_000_123_456_789


def test_stream_reader_interrupted_by_a_handled_signal_gets_eintr(mnt, api):
    """A program that handles SIGINT (Python: KeyboardInterrupt) sees its blocked read end with
    EINTR and its handler run, and carries on."""
    api.put("/files", params={"path": "/streamfs/handled"}, content=b"x")
    script = (
        "import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "os.read(fd, 1)\n"
        "print('reading', flush=True)\n"
        "try:\n"
        "    os.read(fd, 1)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(mnt / "streamfs/handled")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline() == "reading\n"
        wait_for_fuse_request(reader.pid)
        reader.send_signal(signal.SIGINT)
        out, _ = reader.communicate(timeout=5)
    finally:
        reader.kill()
    assert out == "interrupted\n"
