"""`pfs fuse` on a real kernel mount: shell tools on the mounted namespace, checked over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pfs.testing.fixtures import server_fixture
from tests.helpers.fuse import Mount, needs_fuse, read, sh

pytestmark = needs_fuse

CONFIG = {
    "plugins": {
        "memfs": [
            {"name": "main", "enabled": True, "path": "/memfs"},
            {"name": "nested", "enabled": True, "path": "/nested/a/memfs"},
        ],
        "hellofs": {"enabled": True, "path": "/hellofs"},
        "kvfs": {"enabled": True, "path": "/ro", "read_only": True},
        "queuefs": {"enabled": True, "path": "/queuefs"},
        "streamfs": {"enabled": True, "path": "/streamfs"},
    }
}


server = server_fixture(CONFIG)


@pytest.fixture(scope="module")
def mnt(server, tmp_path_factory):
    # --ttl 0: every check below reads what the server has now, never a cached attribute.
    mount = Mount(server.url, tmp_path_factory.mktemp("fuse") / "mnt", "--ttl", "0")
    yield mount.path
    assert mount.stop() == 0, mount.log()
    assert not os.path.ismount(mount.path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_copy_100mib_in_and_out_keeps_every_byte(mnt, api, tmp_path):
    """cp of 100 MiB into memfs and back gives the same digest locally and on the server."""
    source = tmp_path / "big.bin"
    md5 = hashlib.md5()
    with open(source, "wb") as f:
        for _ in range(100):
            block = os.urandom(1 << 20)
            md5.update(block)
            f.write(block)
    sh(f"cp {source} memfs/big.bin && cp memfs/big.bin {tmp_path}/back.bin", mnt)
    assert sha256_file(tmp_path / "back.bin") == sha256_file(source)
    assert (mnt / "memfs/big.bin").stat().st_size == 100 << 20
    remote = api.post("/digest", json={"path": "/memfs/big.bin", "algorithm": "md5"}).json()
    assert remote["digest"] == md5.hexdigest()
    sh("rm memfs/big.bin", mnt)


def test_echo_enqueue_and_cat_dequeue_consume_one_message_each(mnt, api):
    """echo > enqueue (opened O_TRUNC) enqueues once; each cat of dequeue pops exactly one."""
    sh("echo first > queuefs/jobs/enqueue && echo second > queuefs/jobs/enqueue", mnt)
    assert read(api, "/queuefs/jobs/size") == b"2"
    first = json.loads(sh("cat queuefs/jobs/dequeue", mnt).stdout)
    assert first["data"] == "first\n"
    assert read(api, "/queuefs/jobs/size") == b"1"
    assert sh("cat queuefs/jobs/size", mnt).stdout == "1"
    second = json.loads(sh("cat queuefs/jobs/dequeue", mnt).stdout)
    assert second["data"] == "second\n"
    assert sh("cat queuefs/jobs/dequeue", mnt).stdout == "{}"


def test_large_reads_of_dequeue_still_take_one_message(mnt, api):
    """A reader using tiny reads (dd bs=7) needs many kernel reads but gets one whole message."""
    api.put("/files", params={"path": "/queuefs/small/enqueue"}, content=b"x" * 100)
    api.put("/files", params={"path": "/queuefs/small/enqueue"}, content=b"y" * 100)
    out = sh("dd if=queuefs/small/dequeue bs=7 status=none", mnt).stdout
    assert json.loads(out)["data"] == "x" * 100
    assert read(api, "/queuefs/small/size") == b"1"


def test_stream_is_followed_live_and_ends_when_closed(mnt, api):
    """A reader of a streamfs stream gets bytes as they are written, then EOF at .close."""
    api.put("/files", params={"path": "/streamfs/live"}, content=b"history\n")
    reader = subprocess.Popen(
        ["cat", str(mnt / "streamfs/live")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            meta = api.get("/stat", params={"path": "/streamfs/live"}).json()["meta"]
            if meta["Content"]["active_readers"] == "1":
                break
            assert time.monotonic() < deadline and reader.poll() is None
            time.sleep(0.05)
        api.put("/files", params={"path": "/streamfs/live"}, content=b"live 1\n")
        api.put("/files", params={"path": "/streamfs/live"}, content=b"live 2\n")
        api.put("/files", params={"path": "/streamfs/.close"}, content=b"live")
        out, err = reader.communicate(timeout=30)
    finally:
        reader.kill()
    assert out == b"history\nlive 1\nlive 2\n", err


def test_ls_la_shows_nested_mounts_as_directories(mnt, api):
    """Parents of a nested mount are directories; the mount below them lists its files."""
    api.put("/files", params={"path": "/nested/a/memfs/inner.txt"}, content=b"inner")
    top = sh("ls -la", mnt).stdout
    assert " memfs\n" in top and " nested\n" in top and top.count("\nd") >= 4
    assert " a\n" in sh("ls -la nested", mnt).stdout
    assert sh("ls -la nested/a", mnt).stdout.splitlines()[-1].startswith("d")
    listing = sh("ls -la nested/a/memfs", mnt).stdout
    assert "inner.txt" in listing
    assert sh("cat nested/a/memfs/inner.txt", mnt).stdout == "inner"


def test_mv_renames_files_and_trees_and_open_handles_follow(mnt, api):
    """mv of a file and of a directory; a descriptor open across the rename writes the new path."""
    sh("mkdir -p memfs/mv/sub && echo deep > memfs/mv/sub/f && echo top > memfs/mv/t", mnt)
    sh("mv memfs/mv/t memfs/mv/t2 && mv memfs/mv/sub memfs/mv/sub2", mnt)
    assert read(api, "/memfs/mv/t2") == b"top\n"
    assert read(api, "/memfs/mv/sub2/f") == b"deep\n"
    assert api.get("/stat", params={"path": "/memfs/mv/sub"}).status_code == 404
    script = "exec 3>memfs/mv/open; echo a >&3; mv memfs/mv/open memfs/mv/moved; echo b >&3"
    sh(script + "; exec 3>&-", mnt)
    assert read(api, "/memfs/mv/moved") == b"a\nb\n"
    # An editor's save: write a temporary file, rename it over the original.
    sh("echo new > memfs/mv/.t2.swp && mv -f memfs/mv/.t2.swp memfs/mv/t2", mnt)
    assert sh("cat memfs/mv/t2", mnt).stdout == "new\n"


def test_rm_r_removes_a_tree(mnt, api):
    sh("mkdir -p memfs/rmr/a/b && echo 1 > memfs/rmr/a/b/f && echo 2 > memfs/rmr/g", mnt)
    sh("rm -r memfs/rmr", mnt)
    assert api.get("/stat", params={"path": "/memfs/rmr"}).status_code == 404
    assert not (mnt / "memfs/rmr").exists()


def test_grep_r_over_memfs(mnt):
    sh(
        "mkdir -p memfs/g/x && printf 'alpha\\nneedle one\\n' > memfs/g/a.txt"
        " && printf 'needle two\\n' > memfs/g/x/b.txt && echo hay > memfs/g/c.txt",
        mnt,
    )
    out = sh("grep -rn needle memfs/g | sort", mnt).stdout.splitlines()
    assert out == ["memfs/g/a.txt:2:needle one", "memfs/g/x/b.txt:1:needle two"]


def test_dd_conv_notrunc_writes_at_an_offset(mnt, api):
    """dd conv=notrunc changes only its bytes (PUT with offset), never truncating the rest."""
    api.put("/files", params={"path": "/memfs/dd.txt"}, content=b"0123456789")
    sh("printf XY | dd of=memfs/dd.txt bs=1 seek=3 conv=notrunc status=none", mnt)
    assert read(api, "/memfs/dd.txt") == b"012XY56789"
    sh("printf Z | dd of=memfs/dd.txt bs=1 seek=12 conv=notrunc status=none", mnt)
    assert read(api, "/memfs/dd.txt") == b"012XY56789\0\0Z"


def test_editor_swap_file_random_writes_and_reads_back(mnt, api):
    """Like vim's swap file: O_EXCL create, page writes out of order, reads back, fsync."""
    path = mnt / "memfs/.doc.swp"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.pwrite(fd, b"B" * 4096, 4096)
        os.pwrite(fd, b"A" * 4096, 0)
        assert os.pread(fd, 4, 0) == b"AAAA" and os.pread(fd, 4, 4096) == b"BBBB"
        os.pwrite(fd, b"C" * 10, 100)
        os.fsync(fd)
        assert os.fstat(fd).st_size == 8192
        assert os.pread(fd, 12, 99) == b"A" + b"C" * 10 + b"A"
    finally:
        os.close(fd)
    assert read(api, "/memfs/.doc.swp") == b"A" * 100 + b"C" * 10 + b"A" * 3986 + b"B" * 4096
    with pytest.raises(FileExistsError):
        os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)


def test_append_truncate_and_empty_redirect(mnt, api):
    sh("echo one > memfs/app.txt && echo two >> memfs/app.txt", mnt)
    assert read(api, "/memfs/app.txt") == b"one\ntwo\n"
    sh("truncate -s 3 memfs/app.txt", mnt)
    assert read(api, "/memfs/app.txt") == b"one"
    sh(": > memfs/app.txt", mnt)
    assert read(api, "/memfs/app.txt") == b""


def test_chmod_and_touch(mnt, api):
    """chmod reaches the plugin; touch of an existing file succeeds and keeps the content."""
    sh("echo data > memfs/perm.txt && chmod 600 memfs/perm.txt && touch memfs/perm.txt", mnt)
    assert api.get("/stat", params={"path": "/memfs/perm.txt"}).json()["mode"] == 0o600
    assert sh("stat -c %a memfs/perm.txt", mnt).stdout.strip() == "600"
    assert read(api, "/memfs/perm.txt") == b"data\n"


def test_tar_round_trip(mnt, tmp_path):
    """tar out of a local tree into the mount and back gives the same files."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d/one.txt").write_text("one\n")
    (src / "two.bin").write_bytes(os.urandom(300_000))
    sh(f"mkdir memfs/tar && tar -C {src} -cf - . | tar -C memfs/tar -xf -", mnt)
    out = tmp_path / "out"
    out.mkdir()
    sh(f"tar -C memfs/tar -cf - . | tar -C {out} -xf -", mnt)
    assert (out / "d/one.txt").read_text() == "one\n"
    assert (out / "two.bin").read_bytes() == (src / "two.bin").read_bytes()


def test_errors_reach_programs_as_errno(mnt, api):
    """Missing, read-only and non-empty targets fail with their errno; nothing changes."""
    missing = sh("cat memfs/nope.txt", mnt, check=False)
    assert missing.returncode != 0 and "No such file or directory" in missing.stderr
    readonly = sh("echo x > hellofs/hello", mnt, check=False)
    assert readonly.returncode != 0 and "Permission denied" in readonly.stderr
    assert read(api, "/hellofs/hello") == b"Hello, World!\n"
    refused = sh("echo x > ro/keys/new", mnt, check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    assert api.get("/stat", params={"path": "/ro/keys/new"}).status_code == 404
    write_only = sh("cat queuefs/jobs/enqueue", mnt, check=False)
    assert write_only.returncode != 0 and "Permission denied" in write_only.stderr
    sh("mkdir -p memfs/full && echo keep > memfs/full/f", mnt)
    full = sh("rmdir memfs/full", mnt, check=False)
    assert full.returncode != 0 and "Directory not empty" in full.stderr
    assert read(api, "/memfs/full/f") == b"keep\n"
    cross = sh("mv memfs/full/f hellofs/f", mnt, check=False)
    assert cross.returncode != 0
    assert read(api, "/memfs/full/f") == b"keep\n"


def test_mv_across_mounts_copies_and_deletes(mnt, api):
    """Rename across mounts answers EXDEV, so mv(1) falls back to copy + unlink."""
    sh("echo moving > memfs/cross.txt && mv memfs/cross.txt nested/a/memfs/cross.txt", mnt)
    assert read(api, "/nested/a/memfs/cross.txt") == b"moving\n"
    assert api.get("/stat", params={"path": "/memfs/cross.txt"}).status_code == 404


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_unmounts_cleanly_and_sends_pending_data(server, api, tmp_path, sig):
    """Ctrl-C or SIGTERM flushes what open files hold, unmounts, and exits 0."""
    mount = Mount(server.url, tmp_path / "mnt")
    ready = tmp_path / "written"
    holder = subprocess.Popen(
        ["bash", "-c", f"exec 3>memfs/held.txt; echo held >&3; touch {ready}; sleep 30"],
        cwd=mount.path,
    )
    try:
        # The write returned: its bytes sit in the handle's buffer, not yet on the server.
        while not ready.exists():
            assert holder.poll() is None
            time.sleep(0.05)
        assert mount.stop(sig) == 0, mount.log()
    finally:
        holder.kill()
        holder.wait()
    assert not os.path.ismount(mount.path)
    assert read(api, "/memfs/held.txt") == b"held\n"
