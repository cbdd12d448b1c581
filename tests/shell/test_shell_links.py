"""The shell's touch, truncate -s, ln -s and readlink (one-shot, through ``main`` in process),
and ``> /dev/null`` in ``pfs sh`` (through its line executor), against a real server."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest

from pfs.client import Client
from pfs.shell.cli import main
from pfs.shell.context import Context
from pfs.shell.repl import execute
from pfs.testing.fixtures import server_fixture
from tests.helpers.shell import SHELL_CONFIG

shell_server = server_fixture(SHELL_CONFIG)


@pytest.fixture
def pfs(shell_server, monkeypatch, capfd):
    """``pfs <args>`` in this process: (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("PFS_API_URL", shell_server.url)
        capfd.readouterr()
        code = main(list(args))
        out, err = capfd.readouterr()
        return code, out, err

    return run


@pytest.fixture
def d(shell_server):
    path = f"/memfs/sh-{uuid.uuid4().hex[:8]}"
    with Client(shell_server.url) as client:
        client.mkdir(path)
        yield path
        client.rm(path, recursive=True)


@pytest.fixture
def client(shell_server):
    with Client(shell_server.url) as c:
        yield c


def test_touch_sets_the_time_of_an_existing_file_and_creates_a_missing_one(pfs, d, client):
    client.write(f"{d}/old", b"kept")
    client.set_mtime(f"{d}/old", 1_600_000_000 * 10**9)
    before = time.time_ns()
    assert pfs("touch", f"{d}/old", f"{d}/new") == (0, "", "")
    assert client.stat(f"{d}/old").mtime_ns >= before - 5 * 10**9
    assert client.cat(f"{d}/old") == b"kept"
    assert client.stat(f"{d}/new").size == 0
    client.write("/kvfs/keys/sh-touch", b"v")  # kvfs stores no times: left alone, no error
    assert pfs("touch", "/kvfs/keys/sh-touch")[0] == 0
    assert client.cat("/kvfs/keys/sh-touch") == b"v"


def test_truncate(pfs, d, client):
    client.write(f"{d}/f", b"0123456789")
    assert pfs("truncate", "-s", "4", f"{d}/f") == (0, "", "")
    assert client.cat(f"{d}/f") == b"0123"
    assert pfs("truncate", "-s", "1KB", f"{d}/f")[0] == 0
    assert client.stat(f"{d}/f").size == 1024
    assert pfs("truncate", "-s", "0", "/queuefs/q/enqueue")[0] == 0  # a no-op there
    code, _, err = pfs("truncate", "-s", "ten", f"{d}/f")
    assert code == 2 and "invalid size format" in err
    assert pfs("truncate", f"{d}/f")[0] == 2  # -s is required
    code, _, err = pfs("truncate", "-s", "1", f"{d}/missing")
    assert code == 1 and err.startswith("pfs truncate: ") and "no such file" in err


def test_ln_s_and_readlink(pfs, d, client):
    client.write(f"{d}/target", b"via the link")
    assert pfs("ln", "-s", "target", f"{d}/link") == (0, "", "")
    assert pfs("readlink", f"{d}/link") == (0, "target\n", "")
    assert client.cat(f"{d}/link") == b"via the link"
    code, out, _ = pfs("ls", "-l", d)
    assert code == 0 and "link -> target" in out and out.count("lrwxrwxrwx") == 1
    client.mkdir(f"{d}/dir")
    assert pfs("ln", "-s", f"{d}/target", f"{d}/dir")[0] == 0  # into a directory
    assert client.readlink(f"{d}/dir/target") == f"{d}/target"
    assert json.loads(pfs("stat", "--json", f"{d}/link")[1])["meta"]["Type"] == "symlink"
    code, _, err = pfs("ln", "target", f"{d}/hard")
    assert code == 2 and "symbolic links only" in err
    code, _, err = pfs("ln", "-s", "elsewhere", f"{d}/link")
    assert code == 1 and "already exists" in err
    code, _, err = pfs("readlink", f"{d}/target")
    assert code == 1 and "not a symbolic link" in err


def repl_context(url: str) -> tuple[Context, io.BytesIO]:
    out = io.BytesIO()
    return Context(client=Client(url), out=out, interactive=True), out


def test_redirect_to_dev_null_discards_without_a_request(shell_server, d, client, monkeypatch):
    ctx, out = repl_context(shell_server.url)
    written: list[str] = []
    send = ctx.client.write

    def recording_write(path, *args, **kwargs):
        written.append(path)
        return send(path, *args, **kwargs)

    monkeypatch.setattr(ctx.client, "write", recording_write)
    try:
        client.write(f"{d}/f", b"data\n")
        execute(ctx, f"cat {d}/f > /dev/null")
        execute(ctx, "echo more >> /dev/null")
        execute(ctx, "cd /memfs")
        execute(ctx, "echo relative > ../dev/null")
        execute(ctx, f"echo kept > {d}/g")  # any other target is still written
    finally:
        ctx.client.close()
    assert out.getvalue() == b""
    assert written == [f"{d}/g"]
    assert client.cat(f"{d}/g") == b"kept\n"


def test_repl_ln_truncate_touch(shell_server, d, client):
    ctx, out = repl_context(shell_server.url)
    try:
        execute(ctx, f"cd {d}")
        execute(ctx, "echo hello world > f")
        execute(ctx, "ln -s f g")
        execute(ctx, "truncate -s 5 g")
        execute(ctx, "touch h")
        execute(ctx, "readlink g")
    finally:
        ctx.client.close()
    assert client.cat(f"{d}/f") == b"hello"
    assert client.stat(f"{d}/h").size == 0
    assert out.getvalue().decode().splitlines() == [f"  '{d}/g' -> 'f'", "f"]
