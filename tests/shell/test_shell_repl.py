"""``pfs sh`` through a pseudo-terminal: the seed README's transcripts, completion, history."""

from __future__ import annotations

import os
import re
import sys
import uuid

import httpx
import pexpect
import pytest

from pfs.testing.fixtures import server_fixture
from pfs.testing.server import free_port
from tests.helpers.shell import ANSI, SHELL_CONFIG, Repl

repl_server = server_fixture(SHELL_CONFIG)


@pytest.fixture
def repl(repl_server, tmp_path):
    session = Repl(repl_server.url, str(tmp_path))
    banner = session.start()
    assert f"Connected to pfs server at {repl_server.url}" in banner
    assert "Server: version=" in banner
    yield session
    session.close()


def ls_names(text: str) -> list[str]:
    return [line.split()[-1] for line in text.splitlines() if line.strip()]


def test_kvfs_transcript(repl):
    assert repl.run('echo "alice" > /kvfs/keys/username') == ""
    assert repl.run('echo "alice@example.com" > /kvfs/keys/email') == ""
    assert repl.run("cat /kvfs/keys/username") == "alice\n"
    listing = repl.run("ls /kvfs/keys")
    assert sorted(ls_names(listing)) == ["email", "username"]
    assert re.search(r"^-rw-r--r--\s+6 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d username$", listing, re.M)
    assert repl.run("rm /kvfs/keys/username") == "  removed '/kvfs/keys/username'\n"
    assert ls_names(repl.run("ls /kvfs/keys")) == ["email"]


def test_queuefs_transcript(repl):
    # The seed README writes /queuefs/enqueue; queuefs needs a queue name (PLUGINS.md §2.3).
    repl.run("mkdir /queuefs/tasks")
    message_id = repl.run('echo "Task 1" > /queuefs/tasks/enqueue').strip()
    assert message_id.isdigit()
    assert repl.run("cat /queuefs/tasks/size") == "1\n"
    peek = repl.run("cat /queuefs/tasks/peek")
    assert f'"id":"{message_id}"' in peek and '"data":"Task 1\\n"' in peek
    assert repl.run("cat /queuefs/tasks/dequeue").startswith(f'{{"id":"{message_id}"')
    assert repl.run("cat /queuefs/tasks/dequeue") == "{}\n"
    repl.run('echo "Task 2" > /queuefs/tasks/enqueue')
    assert repl.run('echo "" > /queuefs/tasks/clear') == "OK\n"
    assert repl.run("cat /queuefs/tasks/size") == "0\n"
    # the original's second transcript: cd into the queue, relative names
    repl.run("cd /queuefs/tasks", cwd="/queuefs/tasks")
    assert {"clear", "dequeue", "enqueue", "peek", "size"} <= set(ls_names(repl.run("ls")))
    message_id = repl.run("echo hello > enqueue").strip()
    assert repl.run("cat dequeue").startswith(f'{{"id":"{message_id}","data":"hello\\n"')


def test_memfs_navigation_redirection_and_pipes(repl):
    base = f"/memfs/r-{uuid.uuid4().hex[:6]}"
    assert repl.run(f"mkdir {base}") == ""
    assert repl.run(f"cd {base}", cwd=base) == ""
    assert repl.run("pwd") == base + "\n"
    repl.run('echo "first line" > notes.txt')
    repl.run("echo second >> notes.txt")
    repl.run("echo third >> ./notes.txt")
    assert repl.run("cat notes.txt") == "first line\nsecond\nthird\n"
    assert repl.run("cat notes.txt | grep -v second | tee copy.txt") == "first line\nthird\n"
    assert repl.run(f"cat {base}/copy.txt") == "first line\nthird\n"
    assert repl.run("cat notes.txt | grep -c i") == "2\n"
    repl.run("write data.txt some words here")
    assert repl.run("cat data.txt") == "some words here\n"  # terminal: newline added on screen
    repl.run("mkdir -p sub/deeper")
    repl.run("cd sub/deeper", cwd=f"{base}/sub/deeper")
    repl.run("cd ../..", cwd=base)
    assert "\x1b[1;34msub/\x1b[0m" in repl.run_raw("ls")  # directories in colour
    listing = repl.run("ls -l")
    assert listing.splitlines()[0].startswith("drwxr-xr-x        0 ")
    assert listing.splitlines()[0].endswith(" sub/")
    assert re.search(r"^-rw-r--r--\s+24 .* notes\.txt$", listing, re.M)
    assert repl.run("stat notes.txt").startswith(f"  File: {base}/notes.txt\n  Type: File\n")
    assert repl.run("cp notes.txt sub/").startswith(
        f"Copied {base}/notes.txt -> {base}/sub/notes.txt (24 bytes, 1 file, "
    )
    assert repl.run("mv data.txt sub") == ""
    assert repl.run("chmod 600 sub/data.txt") == f"  changed mode of '{base}/sub/data.txt' to 600\n"
    assert repl.run("rm -rf sub") == f"  removed '{base}/sub'\n"
    assert repl.run("cat missing.txt") == f"cat: no such file or directory: {base}/missing.txt\n"
    assert repl.run("cd notes.txt") == f"cd: not a directory: {base}/notes.txt\n"
    assert repl.run("frobnicate") == "Unknown command: frobnicate\n"
    assert repl.run("write --stream x").startswith("write: write --stream is not available")
    repl.run("cd", cwd="/")
    help_text = repl.run("help")
    for name in ("ls", "cd", "mount", "upload", "tail", "exit"):
        assert f"  {name} " in help_text


def test_dynamic_mounting_transcript(repl):
    assert repl.run("mount memfs /test/memory") == "  plugin mounted\n"
    assert (
        repl.run("mount streamfs /test/stream channel_buffer_size=65536 ring_buffer_size=1MB")
        == "  plugin mounted\n"
    )
    mounts = repl.run("mounts")
    assert "memfs on /test/memory (plugin: memfs)" in mounts
    assert "streamfs on /test/stream (plugin: streamfs, channel_buffer_size=65536" in mounts
    assert sorted(ls_names(repl.run("ls /test"))) == ["memory/", "stream/"]
    repl.run('echo "in the new mount" > /test/memory/a')
    assert repl.run("cat /test/memory/a") == "in the new mount\n"
    assert repl.run("unmount /test/memory") == "Unmounted plugin at /test/memory\n"
    assert repl.run("unmount /test/stream") == "Unmounted plugin at /test/stream\n"
    assert repl.run("mount nosuchfs /x") == "mount: unknown filesystem type: nosuchfs\n"
    assert repl.run("cat /serverinfofs/version").strip()


def test_sqlfs_dynamic_mount_transcript(repl, tmp_path):
    db = tmp_path / "test.db"
    assert repl.run(f"mount sqlfs /test/db backend=sqlite db_path={db}") == "  plugin mounted\n"
    try:
        repl.run('write /test/db/local.txt "local data"')
        assert repl.run("cat /test/db/local.txt") == "local data\n"
        repl.run("mkdir /test/db/data")
        repl.run("""write /test/db/data/config.json '{"key": "value"}'""")
        assert repl.run("cat /test/db/data/config.json") == '{"key": "value"}\n'
    finally:
        assert repl.run("unmount /test/db") == "Unmounted plugin at /test/db\n"
    assert db.exists()


def test_localfs_transcript(repl, tmp_path):
    local = tmp_path / "localdir"
    local.mkdir()
    (local / "config.txt").write_text("key=value\n")
    assert repl.run(f"mount localfs /local local_dir={local}") == "  plugin mounted\n"
    try:
        assert "config.txt" in repl.run("ls /local")
        assert repl.run("cat /local/config.txt") == "key=value\n"
        repl.run('echo "data" > /local/output.txt')
        assert (local / "output.txt").read_text() == "data\n"
        repl.run("mkdir /local/newdir")
        assert (local / "newdir").is_dir()
        repl.run('echo "temp" > /memfs/temp.txt')
        repl.run("cp /memfs/temp.txt /local/backup.txt")
        assert (local / "backup.txt").read_text() == "temp\n"
    finally:
        repl.run("unmount /local")


def test_s3fs_transcript(repl, tmp_path):
    from pfs.testing.moto import ACCESS_KEY, REGION, SECRET_KEY, MotoServer

    moto = MotoServer()
    try:
        moto.client().create_bucket(Bucket="my-bucket-name")
        options = (
            f"bucket=my-bucket-name region={REGION} access_key_id={ACCESS_KEY} "
            f"secret_access_key={SECRET_KEY} endpoint={moto.endpoint}"
        )
        assert repl.run(f"mount s3fs /s3/mybucket {options}") == "  plugin mounted\n"
        assert "secret_access_key=***" in repl.run("mounts")
        local_pdf = tmp_path / "file.pdf"
        local_pdf.write_bytes(b"%PDF-1.4 fake\n")
        repl.run('write /s3/mybucket/data.txt "content"')
        assert repl.run(f"upload {local_pdf} /s3/mybucket/documents/file.pdf").startswith(
            f"Uploaded {local_pdf} -> /s3/mybucket/documents/file.pdf (14 bytes, 1 file, "
        )
        assert repl.run("cat /s3/mybucket/data.txt") == "content\n"
        out = repl.run(f"download /s3/mybucket/documents/file.pdf {tmp_path}/back.pdf")
        assert out.startswith("Downloaded")
        assert (tmp_path / "back.pdf").read_bytes() == b"%PDF-1.4 fake\n"
        assert sorted(ls_names(repl.run("ls /s3/mybucket"))) == ["data.txt", "documents/"]
        repl.run("unmount /s3/mybucket")
    finally:
        moto.close()


def test_watch_repeats_until_interrupted(repl):
    repl.run("echo 1 > /memfs/counter")
    repl.child.sendline("watch -n 0.2 cat /memfs/counter")
    repl.child.expect("Every 0.2s: cat /memfs/counter")
    repl.child.expect("Every 0.2s: cat /memfs/counter")  # it ran again
    repl.child.sendintr()
    repl.child.expect(re.escape("pfs:/>"))
    assert repl.run("pwd") == "/\n"  # the session goes on


def test_httpfs_transcript(repl, tmp_path):
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 report\n")  # the session runs in tmp_path
    port = free_port()
    assert repl.run("write /memfs/report.pdf < report.pdf") == ""
    repl.run('write /memfs/README.md "# Project\\n\\nDocumentation here"')
    assert repl.run("cat /memfs/README.md") == "# Project\\n\\nDocumentation here\n"
    mounted = repl.run(f"mount httpfs /temp-http pfs_path=/memfs http_port={port}")
    assert mounted == "  plugin mounted\n"
    try:
        status = repl.run("cat /temp-http")
        assert "/memfs" in status and str(port) in status
        served = httpx.get(f"http://127.0.0.1:{port}/report.pdf", timeout=30)
        assert served.status_code == 200 and served.content == b"%PDF-1.4 report\n"
    finally:
        assert repl.run("unmount /temp-http") == "Unmounted plugin at /temp-http\n"


def test_input_redirection_reads_a_local_file(repl, tmp_path):
    (tmp_path / "lines.txt").write_text("one\ntwo\nthree\n")
    repl.run("write /memfs/lines.txt < lines.txt")
    assert repl.run("cat /memfs/lines.txt") == "one\ntwo\nthree\n"
    assert repl.run("cat < lines.txt | grep t") == "two\nthree\n"
    assert repl.run("cat < missing.txt") == "cat: missing.txt: No such file or directory\n"
    assert repl.run("cat /memfs/lines.txt | write /memfs/x < lines.txt").startswith(
        "cat: syntax error: < only for the first command"
    )


def test_tab_completion_of_commands_and_remote_paths(repl):
    repl.run("mkdir /memfs/completion-dir")
    repl.run("echo x > /memfs/completion-dir/only-file.txt")
    # the screen is redrawn incrementally: only the completed suffix appears after a Tab
    repl.child.send("ca\t")
    repl.child.expect("t")
    repl.child.send(" /memfs/completion-d\t")
    repl.child.expect(re.escape("ir/"))
    repl.child.send("on\t")
    repl.child.expect(re.escape("only-file.txt"))
    assert repl.run("") == "x\n"
    repl.run("cd /memfs", cwd="/memfs")
    repl.child.send("ls complet\t")
    repl.child.expect(re.escape("ion-dir/"))
    assert "only-file.txt" in repl.run("")
    repl.run("cd /", cwd="/")


def test_history_persists_across_sessions(repl_server, tmp_path):
    first = Repl(repl_server.url, str(tmp_path))
    first.start()
    first.run("echo remembered-command")
    first.close()
    assert "echo remembered-command" in (tmp_path / ".pfs_history").read_text()
    second = Repl(repl_server.url, str(tmp_path))
    second.start()
    second.child.send("\x1b[A\x1b[A")  # arrow up twice: past `exit`, to the previous line
    second.child.expect("remembered-command")
    assert second.run("") == "remembered-command\n"
    second.close()


def test_progress_bar_on_upload_and_download(repl, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    out = repl.run(f"upload {big} /memfs/big.bin")
    assert re.search(r"big\.bin .*━.* 3\.1/3\.1 MB", out), out
    assert "Uploaded" in out
    out = repl.run(f"download /memfs/big.bin {tmp_path}/back.bin")
    assert re.search(r"3\.1/3\.1 MB", out), out
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    small = repl.run("cp /memfs/big.bin /memfs/big2.bin")
    assert "3.1/3.1 MB" in small
    repl.run("rm /memfs/big.bin /memfs/big2.bin")


def test_repl_reports_a_server_that_is_not_running(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "pfs.shell.cli", "--server", url, "sh"],
        encoding="utf-8",
        env={**os.environ, "HOME": str(tmp_path), "TERM": "xterm"},
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    text = ANSI.sub("", child.before)
    assert f"Failed to connect to {url}" in text
    assert "server not running" in text
    assert child.exitstatus == 1
