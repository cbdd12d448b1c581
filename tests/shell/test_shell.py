"""One-shot ``pfs`` commands run as real subprocesses against a real server."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from pfs.shell.cli import main
from pfs.shell.formatting import parse_config_value
from pfs.testing.fixtures import server_fixture
from pfs.testing.server import free_port
from tests.helpers.shell import SHELL_CONFIG

PFS = [sys.executable, "-m", "pfs.shell.cli"]


shell_server = server_fixture(SHELL_CONFIG)


@pytest.fixture
def pfs(shell_server, tmp_path, monkeypatch, capfdbinary):
    """Run ``pfs <args>`` in this process (the same ``main`` the console script calls).

    Most checks use this: starting an interpreter per command costs seconds on a busy machine.
    ``pfs_proc`` runs the real subprocess for what needs one (pipes, exit codes, memory).
    """

    def run(
        *args: str,
        input: bytes | str | None = None,
        env: dict | None = None,
        cwd: Path | None = None,
        raw: bool = False,
    ) -> subprocess.CompletedProcess:
        monkeypatch.setenv("PFS_API_URL", shell_server.url)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(cwd or tmp_path)
        data = input.encode() if isinstance(input, str) else (input or b"")
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        capfdbinary.readouterr()
        code = main(list(args))
        sys.stdout.flush()
        out, err = capfdbinary.readouterr()
        return subprocess.CompletedProcess(
            args, code, out if raw else out.decode(errors="replace"), err.decode()
        )

    return run


@pytest.fixture
def pfs_proc(shell_server, tmp_path):
    """Run ``pfs <args>`` as a subprocess; returns the CompletedProcess (text unless raw)."""

    def run(
        *args: str,
        input: bytes | str | None = None,
        env: dict | None = None,
        cwd: Path | None = None,
        raw: bool = False,
    ) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PFS_API_URL": shell_server.url, **(env or {})}
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [*PFS, *args],
            input=data,
            capture_output=True,
            env=full_env,
            cwd=cwd or tmp_path,
            timeout=120,
        )
        if not raw:
            proc.stdout = proc.stdout.decode(errors="replace")
        proc.stderr = proc.stderr.decode(errors="replace")
        return proc

    return run


@pytest.fixture
def d(pfs):
    path = f"/memfs/s-{uuid.uuid4().hex[:8]}"
    assert pfs("mkdir", path).returncode == 0
    return path


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def test_printf_pipe_write_then_cat(shell_server, tmp_path):
    env = {**os.environ, "PFS_API_URL": shell_server.url}
    pfs_cmd = " ".join(PFS)
    script = f"printf 'a\\nb\\n' | {pfs_cmd} write /memfs/x && {pfs_cmd} cat /memfs/x"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"a\nb\n"


def test_write_cat_stat_ls(pfs, d):
    assert ok(pfs("write", d + "/f", "hello", "world")) == ""
    assert ok(pfs("cat", d + "/f")) == "hello world"  # bytes as stored: no newline added to pipes
    assert ok(pfs("write", "-a", d + "/f", "!")) == ""
    assert ok(pfs("cat", d + "/f")) == "hello world!"
    info = json.loads(ok(pfs("stat", d + "/f", "--json")))
    assert (info["name"], info["size"], info["isDir"]) == ("f", 12, False)
    stat_text = ok(pfs("stat", d + "/f"))
    assert "  Type: File\n  Size: 12\n  Mode: 644\n" in stat_text
    ok(pfs("mkdir", d + "/sub"))
    lines = ok(pfs("ls", d)).splitlines()
    assert lines[0].startswith("drwxr-xr-x        0 ") and lines[0].endswith(" sub/")
    assert lines[1].startswith("-rw-r--r--       12 ") and lines[1].endswith(" f")
    listing = json.loads(ok(pfs("--json", "ls", d)))
    assert sorted(e["name"] for e in listing) == ["f", "sub"]
    assert ok(pfs("ls", d + "/f")).endswith(" f\n")  # ls of a file shows the file


def test_tree_tail_grep_digest(pfs, d):
    ok(pfs("mkdir", "-p", d + "/a/b"))
    ok(pfs("write", d + "/a/b/log", input="".join(f"line {i}\n" for i in range(1, 101))))
    tree = ok(pfs("tree", d))
    assert tree.splitlines()[0] == d
    assert "└── a/" in tree and "log (" in tree and "2 directories, 1 files" in tree
    assert ok(pfs("tail", "-n", "3", d + "/a/b/log")) == "line 98\nline 99\nline 100\n"
    grep = ok(pfs("grep", "-r", "line 5", d))
    assert grep.splitlines() == [f"{d}/a/b/log:5:line 5"] + [
        f"{d}/a/b/log:{n}:line {n}" for n in range(50, 60)
    ]
    assert ok(pfs("grep", "-c", "-r", "line 5", d)) == "11\n"
    assert json.loads(ok(pfs("grep", "--json", "-ri", "LINE 10", d)))["count"] == 2
    assert ok(pfs("grep", "--stream", "-r", "line 100", d)) == f"{d}/a/b/log:100:line 100\n"
    ok(pfs("write", d + "/h", "hello"))
    assert ok(pfs("digest", d + "/h")) == f"c779cfaa5e523818  {d}/h\n"
    assert ok(pfs("digest", "-a", "md5", d + "/h")).startswith("5d41402abc4b2a76b9719d911017c592")


def test_mkdir_touch_mv_chmod_rm(pfs, d):
    ok(pfs("mkdir", "-p", d + "/x/y/z"))
    ok(pfs("mkdir", "-p", d + "/x/y/z"))
    ok(pfs("touch", d + "/t"))
    ok(pfs("touch", d + "/t"))  # existing file: left alone
    ok(pfs("mv", d + "/t", d + "/x"))  # into a directory keeps the name
    assert json.loads(ok(pfs("stat", "--json", d + "/x/t")))["size"] == 0
    ok(pfs("chmod", "600", d + "/x/t"))
    assert json.loads(ok(pfs("stat", "--json", d + "/x/t")))["mode"] == 0o600
    failed = pfs("rm", d + "/x")
    assert failed.returncode == 1
    assert failed.stderr.startswith("pfs rm: ") and "not empty" in failed.stderr
    ok(pfs("rm", "-rf", d + "/x"))
    ok(pfs("rm", "-f", d + "/nothing-here"))
    assert pfs("stat", d + "/x").returncode == 1


def test_cp_between_pfs_and_local(pfs, d, tmp_path):
    (tmp_path / "note.txt").write_text("local text\n")
    (tmp_path / "tree" / "in").mkdir(parents=True)
    (tmp_path / "tree" / "in" / "deep.txt").write_text("deep\n")
    assert ok(pfs("cp", "note.txt", d + "/")).startswith("Uploaded")  # relative = local
    assert ok(pfs("cat", d + "/note.txt")) == "local text\n"
    ok(pfs("cp", f"local:{tmp_path}/note.txt", d + "/n2.txt"))
    assert ok(pfs("cat", d + "/n2.txt")) == "local text\n"
    ok(pfs("cp", d + "/n2.txt", d + "/n3.txt"))  # PFS → PFS
    assert ok(pfs("cat", d + "/n3.txt")) == "local text\n"
    ok(pfs("cp", d + "/n3.txt", "./back.txt"))  # PFS → local
    assert (tmp_path / "back.txt").read_text() == "local text\n"
    ok(pfs("cp", "-r", "tree", d + "/tree"))
    assert ok(pfs("cat", d + "/tree/in/deep.txt")) == "deep\n"
    ok(pfs("download", "-r", d + "/tree", str(tmp_path / "down")))
    assert (tmp_path / "down" / "in" / "deep.txt").read_text() == "deep\n"
    out = ok(pfs("upload", str(tmp_path / "note.txt"), d + "/up.txt"))
    assert re.fullmatch(
        rf"Uploaded {tmp_path}/note\.txt -> {d}/up\.txt \(11 bytes, 1 file, \d+\.\d\d s\)\n", out
    )
    assert "━" not in out  # no progress bar when stdout is not a terminal
    both_local = pfs("cp", "a", "b")
    assert both_local.returncode == 2 and "both paths are local" in both_local.stderr
    missing = pfs("cp", "no-such-file", d + "/z")
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr


def test_mounts_mount_unmount_with_typed_values(pfs):
    where = f"/mnt-{uuid.uuid4().hex[:6]}"
    out = ok(pfs("mount", "streamfs", where, "channel_buffer_size=1048576", "ring_buffer_size=2MB"))
    assert out == "  plugin mounted\n"
    mounted = {m["path"]: m for m in json.loads(ok(pfs("mounts", "--json")))}
    assert mounted[where]["config"] == {"channel_buffer_size": 1048576, "ring_buffer_size": "2MB"}
    assert f"streamfs on {where} (plugin: streamfs, channel_buffer_size=1048576" in ok(
        pfs("mounts")
    )
    assert ok(pfs("unmount", where)) == f"Unmounted plugin at {where}\n"
    bad = pfs("mount", "nosuchfs", "/zz")
    assert bad.returncode == 1
    assert bad.stderr == "pfs mount: unknown filesystem type: nosuchfs\n"
    usage = pfs("mount", "memfs", "/zz", "novalue")
    assert usage.returncode == 2 and "expected key=value" in usage.stderr
    assert "/zz" not in ok(pfs("mounts"))


def test_config_value_parsing():
    assert parse_config_value("9000") == 9000
    assert parse_config_value("1.5") == 1.5
    assert parse_config_value("TRUE") is True and parse_config_value("false") is False
    assert parse_config_value("/tmp/test.db") == "/tmp/test.db"


def test_plugins_and_health(pfs):
    assert ok(pfs("plugins")) == "No external plugins loaded\n"
    assert json.loads(ok(pfs("plugins", "list", "--json"))) == []
    failed = pfs("plugins", "load", "/no/such/plugin.so")
    assert failed.returncode == 1 and failed.stderr.startswith("pfs plugins: ")
    assert ok(pfs("health")).startswith("healthy: version=")
    assert json.loads(ok(pfs("health", "--json")))["status"] == "healthy"


def test_streaming_write_and_cat_through_streamfs(pfs_proc):
    pfs = pfs_proc
    name = f"live-{uuid.uuid4().hex[:6]}"
    payload = os.urandom(3 * 1024 * 1024)
    assert ok(pfs("write", "--stream", f"/streamfs/{name}", input=payload)).startswith("Written")
    ok(pfs("write", "/streamfs/.close", name))
    proc = pfs("cat", "--stream", f"/streamfs/{name}", raw=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == payload


def test_write_stream_has_bounded_memory(shell_server):
    """100 MiB piped through ``pfs write --stream``: peak RSS stays far below the payload."""
    total, chunk = 100 * 1024 * 1024, 1024 * 1024
    probe = (
        "import resource, sys\n"
        "from pfs.shell.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PFS_API_URL": shell_server.url}
    path = f"/memfs/stream-{uuid.uuid4().hex[:6]}"

    def peak_kib(args: list[str], feed: int) -> int:
        with subprocess.Popen(  # the with closes the pipes
            [sys.executable, "-c", probe, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        ) as proc:

            def writer() -> None:
                block = b"z" * chunk
                for _ in range(feed // chunk):
                    proc.stdin.write(block)
                proc.stdin.close()

            thread = threading.Thread(target=writer)
            thread.start()
            thread.join()
            err = proc.stderr.read()
            proc.stdout.read()
            assert proc.wait(timeout=300) == 0, err
        return int(err.decode().split()[-1])

    baseline = peak_kib(["health"], 0)
    streamed = peak_kib(["write", "--stream", path], total)
    size = subprocess.run([*PFS, "stat", "--json", path], capture_output=True, env=env)
    assert json.loads(size.stdout)["size"] == total
    assert streamed - baseline < 40 * 1024, (baseline, streamed)
    subprocess.run([*PFS, "rm", path], env=env, check=True)


def test_errors_exit_codes_and_one_line_messages(pfs_proc, d):
    pfs = pfs_proc
    missing = pfs("cat", d + "/missing")
    assert missing.returncode == 1
    assert missing.stderr == f"pfs cat: no such file or directory: {d}/missing\n"
    assert missing.stdout == ""
    unknown = pfs("frobnicate")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert pfs("mkdir").returncode == 2
    bad_mode = pfs("chmod", "9x9", d)
    assert bad_mode.returncode == 2 and bad_mode.stderr == "pfs chmod: chmod: invalid mode: 9x9\n"
    bad_flag = pfs("grep", "-r", "(", d)
    assert bad_flag.returncode == 1 and "invalid regex pattern" in bad_flag.stderr


def test_server_not_running_is_one_clear_line(pfs_proc):
    pfs = pfs_proc
    port = free_port()
    for args in (
        ["--server", f"http://127.0.0.1:{port}", "ls", "/"],
        ["ls", "/", "--server", f"http://127.0.0.1:{port}"],
    ):
        proc = pfs(*args)
        assert proc.returncode == 1
        assert proc.stderr == (
            f"pfs ls: Connection refused - server not running at http://127.0.0.1:{port}\n"
        )
    env_proc = pfs("health", env={"PFS_API_URL": f"http://127.0.0.1:{port}"})
    assert env_proc.returncode == 1 and "server not running" in env_proc.stderr


def test_version_and_help(pfs_proc):
    pfs = pfs_proc
    assert ok(pfs("--version")).startswith("pfs, version pfs-cli ")
    assert "upload" in ok(pfs("--help"))
    assert "--recursive" in ok(pfs("rm", "-h"))


def test_sh_script_parsing_errors_and_chained_redirection(pfs, d):
    script = "\n".join(
        [
            f"cd {d}",
            "echo q > a > b",  # a gets q; b gets the answer of writing a (memfs: empty)
            'echo "unbalanced > c',
            "echo x >",
            "echo x > > c",
            "| cat",
            "cat a",
            f"echo kept > {d}/keep",
            f"echo more >> {d}/keep",
            f"cat {d}/keep",
            "write only-path",
            "ls -l",
        ]
    )
    proc = pfs("sh", input=script + "\n")
    assert proc.returncode == 1  # some lines failed
    errors = proc.stderr.splitlines()
    assert errors == [
        "echo: no output to write to b",
        "echo: No closing quotation",
        "echo: syntax error: > needs a file name",
        "echo: syntax error: > needs a file name",
        "|: syntax error: empty command",
        "write: no data: give the text as arguments or pipe into the command",
    ]
    assert proc.stdout.startswith("q\nkept\nmore\n")
    names = [line.split()[-1] for line in proc.stdout.splitlines()[3:]]
    assert sorted(names) == ["a", "keep"]  # nothing was written by the failed lines


def test_wildcards_expand_against_the_listing(pfs, d):
    for name in ("a.txt", "b.txt", "c.log"):
        ok(pfs("write", f"{d}/{name}", name))
    listing = ok(pfs("ls", "-1", d + "/*.txt"))
    assert listing.split() == [f"{d}/a.txt:", "a.txt", f"{d}/b.txt:", "b.txt"]
    assert ok(pfs("cat", d + "/?.txt")) == "a.txtb.txt"
    ok(pfs("rm", d + "/*.txt"))
    assert ok(pfs("ls", "-1", d)).split() == ["c.log"]
    missing = pfs("rm", d + "/*.none")
    assert missing.returncode == 1 and missing.stderr == f"pfs rm: no match: {d}/*.none\n"


def test_tail_follow_prints_appended_data(shell_server, d):
    from pfs.client import Client

    with Client(shell_server.url) as client:
        client.write(d + "/log", "old 1\nold 2\n")
        env = {**os.environ, "PFS_API_URL": shell_server.url}
        proc = subprocess.Popen(
            [*PFS, "tail", "-f", "-n", "1", d + "/log"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stdout.readline() == b"old 2\n"
            client.write(d + "/log", b"new 3\n", flags=["append"])
            assert proc.stdout.readline() == b"new 3\n"
        finally:
            proc.terminate()
            proc.wait(30)
            proc.stdout.close()
            proc.stderr.close()


def test_events_prints_changes_as_they_happen(shell_server, d):
    from pfs.client import Client

    with Client(shell_server.url) as client:
        env = {**os.environ, "PFS_API_URL": shell_server.url}
        proc = subprocess.Popen(
            [*PFS, "events", "-r", "-n", "3", d],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stderr.readline() == f"watching {d} (Ctrl-C to stop)\n".encode()
            client.write(d + "/e.txt", "12345")
            client.mv(d + "/e.txt", d + "/f.txt")
            client.rm(d + "/f.txt")
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
            proc.stdout.close()
            proc.stderr.close()
    assert out.decode().splitlines() == [
        f"write     {d}/e.txt (5 bytes)",
        f"rename    {d}/e.txt -> {d}/f.txt (5 bytes)",
        f"remove    {d}/f.txt",
    ]
    assert proc.returncode == 0


@pytest.fixture
def queue(pfs):
    """A queue holding the messages "first" and "second"; removed afterwards."""
    path = f"/queuefs/s{uuid.uuid4().hex[:8]}"
    ok(pfs("mkdir", path))
    for message in ("first", "second"):
        ok(pfs("write", path + "/enqueue", message))
    yield path
    pfs("rm", "-r", path)


def test_walkers_never_take_a_message(pfs, queue, tmp_path):
    """Trees and wildcards skip the queue's dequeue (and its write-only control files)."""
    readable = ["peek", "size", "visibility_timeout"]
    ok(pfs("download", "-r", queue, str(tmp_path / "down")))
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == readable
    ok(pfs("cp", "-r", queue, "local:" + str(tmp_path / "copied")))
    assert sorted(p.name for p in (tmp_path / "copied").iterdir()) == readable
    backup = f"/memfs/q-{uuid.uuid4().hex[:8]}"
    ok(pfs("cp", "-r", queue, backup))
    assert sorted(ok(pfs("ls", "-1", backup)).split()) == readable  # copies may land in any order
    # [dp]* matches dequeue and peek: only peek is read.
    assert '"data":"first"' in ok(pfs("cat", queue + "/[dp]*")).replace(" ", "")
    assert ok(pfs("grep", "first", queue + "/[dp]*")).startswith(f"{queue}/peek:1:")
    assert ok(pfs("digest", queue + "/[dp]*")).split()[1] == f"{queue}/peek"
    assert ok(pfs("grep", "-c", "-r", "second", queue)) == "0\n"
    tree = ok(pfs("tree", queue))  # lists every entry, reads none
    assert "dequeue (" in tree and "enqueue (" in tree
    assert ok(pfs("cat", queue + "/size")) == "2"
    ok(pfs("rm", "-r", backup))
