"""``cp``, ``upload`` and ``download`` print one summary line (bytes, files, seconds) through the
real ``pfs`` command; ``-q`` silences it, ``--json`` gives it as JSON; a directory without ``-r``
is refused naming the shell's flag, not the SDK's argument."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pexpect
import pytest

from pfs.client import Client

PFS = [sys.executable, "-m", "pfs.shell.cli"]
SECONDS = r"\d+\.\d\d s"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def base(server) -> str:
    path = f"/memfs/sum-{uuid.uuid4().hex[:8]}"
    with Client(server.url) as client:
        client.mkdir(f"{path}/tree/in", parents=True)
        client.write(f"{path}/a.txt", b"hello\n")
        client.write(f"{path}/tree/one", b"1")
        client.write(f"{path}/tree/in/two", b"22")
    return path


def pfs(server, *args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PFS_API_URL": server.url}
    return subprocess.run(
        [*PFS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def on_terminal(server, *args: str) -> str:
    """What ``pfs <args>`` prints when its stdout is a terminal (a pty), without the progress
    display's cursor codes."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "pfs.shell.cli", *args],
        env={**os.environ, "PFS_API_URL": server.url, "TERM": "xterm"},
        encoding="utf-8",
        timeout=120,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return ANSI.sub("", child.before).replace("\r", "")


def test_cp_on_a_terminal_prints_a_summary_and_q_silences_it(server, base):
    out = on_terminal(server, "cp", f"{base}/a.txt", f"{base}/b.txt")
    assert re.fullmatch(
        rf"Copied {base}/a\.txt -> {base}/b\.txt \(6 bytes, 1 file, {SECONDS}\)\n", out
    )
    assert on_terminal(server, "cp", "-q", f"{base}/a.txt", f"{base}/c.txt") == ""
    with Client(server.url) as client:
        assert client.cat(f"{base}/c.txt") == b"hello\n"


def test_cp_into_a_pipe_stays_silent_like_cp1(server, base):
    done = pfs(server, "cp", f"{base}/a.txt", f"{base}/d.txt")
    assert done.returncode == 0 and done.stdout == ""


def test_cp_json_gives_the_summary_as_json(server, base):
    done = pfs(server, "--json", "cp", f"{base}/a.txt", f"{base}/e.txt")
    summary = json.loads(done.stdout)
    assert summary["bytes"] == 6 and summary["files"] == 1
    assert summary["source"] == f"{base}/a.txt" and summary["destination"] == f"{base}/e.txt"
    assert summary["seconds"] >= 0 and summary["message"].startswith("Copied ")


def test_a_tree_download_and_upload_count_their_files(server, base, tmp_path):
    done = pfs(server, "cp", "-r", f"{base}/tree", "local:" + str(tmp_path / "down"))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"Downloaded {base}/tree -> {tmp_path}/down \(3 bytes, 2 files, {SECONDS}\)\n",
        done.stdout,
    )
    up = pfs(server, "upload", "-r", str(tmp_path / "down"), f"{base}/up")
    assert re.search(r"\(3 bytes, 2 files, ", up.stdout)
    assert pfs(server, "upload", "-q", "-r", str(tmp_path / "down"), f"{base}/up2").stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("cp", "{base}/tree", "{base}/copy"),  # PFS → PFS
        ("cp", "{base}/tree", "local:{tmp}/copy"),  # PFS → local
        ("download", "{base}/tree", "{tmp}/copy"),
        ("cp", "local:{tmp}/dir", "{base}/copy"),  # local → PFS
        ("upload", "{tmp}/dir", "{base}/copy"),
    ],
)
def test_a_directory_without_r_names_the_shells_flag(server, base, tmp_path, args):
    (tmp_path / "dir").mkdir()
    argv = [a.format(base=base, tmp=tmp_path) for a in args]
    done = pfs(server, *argv)
    assert done.returncode == 1
    assert done.stderr.endswith(" is a directory (use -r)\n"), done.stderr
    assert "recursive=" not in done.stderr
    assert not (tmp_path / "copy").exists()
    with Client(server.url) as client:
        assert not client.exists(f"{base}/copy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grep", "x", "{base}/tree"), "pfs grep: {base}/tree is a directory (use -r)"),
        (("grep", "--stream", "x", "{base}/tree"), "pfs grep: {base}/tree is a directory (use -r)"),
        (("rm", "{base}/tree"), "pfs rm: directory not empty: {base}/tree (use -r)"),
    ],
)
def test_grep_and_rm_of_a_directory_without_r_name_the_shells_flag(server, base, args, message):
    done = pfs(server, *[a.format(base=base) for a in args])
    assert done.returncode == 1
    assert done.stderr == message.format(base=base) + "\n"
    with Client(server.url) as client:
        assert client.cat(f"{base}/tree/in/two") == b"22"  # nothing removed


def test_other_grep_errors_keep_the_servers_words(server, base):
    done = pfs(server, "grep", "(", f"{base}/a.txt")
    assert done.returncode == 1 and "invalid regex" in done.stderr and "-r" not in done.stderr
