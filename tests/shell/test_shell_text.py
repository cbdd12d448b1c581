"""head, wc, sort and tail as pipe stages and on PFS files, one-shot and inside ``pfs sh``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pfs.testing.fixtures import server_fixture
from tests.helpers.shell import SHELL_CONFIG, Repl

server = server_fixture(SHELL_CONFIG)
LINES = "".join(f"line {n}\n" for n in range(1, 101))


def pfs(server, *args, input=None):
    env = {**os.environ, "PFS_API_URL": server.url}
    return subprocess.run([sys.executable, "-m", "pfs.shell.cli", *args], input=input,
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def numbers(server):
    client = server.client()
    client.put("/files", params={"path": "/memfs/lines"}, content=LINES.encode())
    return "/memfs/lines"


def test_filters_on_pfs_files(server, numbers):
    assert pfs(server, "head", "-n", "2", numbers).stdout == "line 1\nline 2\n"
    assert pfs(server, "wc", "-l", numbers).stdout == "100\n"
    assert pfs(server, "wc", numbers).stdout == f"100 200 {len(LINES)}\n"
    assert pfs(server, "sort", "-r", numbers).stdout.splitlines()[:2] == ["line 99", "line 98"]
    assert pfs(server, "tail", "-n", "1", numbers).stdout == "line 100\n"


def test_filters_on_piped_input_one_shot(server):
    data = "pear 3\napple 10\npear 3\nfig 1\n"
    assert pfs(server, "sort", input=data).stdout == "apple 10\nfig 1\npear 3\npear 3\n"
    assert pfs(server, "sort", "-u", "-r", input=data).stdout == "pear 3\nfig 1\napple 10\n"
    assert pfs(server, "wc", "-w", input=data).stdout == "8\n"
    assert pfs(server, "head", "-n", "1", input=data).stdout == "pear 3\n"
    assert pfs(server, "tail", "-n", "1", input=data).stdout == "fig 1\n"
    done = pfs(server, "head", "-n", "-1", input=data)
    assert done.returncode == 2 and "0 or more" in done.stderr


def test_pipe_stages_inside_the_shell(server, numbers, tmp_path):
    session = Repl(server.url, str(tmp_path))
    session.start()
    try:
        assert session.run(f"cat {numbers} | wc -l").strip() == "100"
        assert session.run(f"cat {numbers} | sort -r | head -n 1").strip() == "line 99"
        assert session.run(f"cat {numbers} | tail -n 1").strip() == "line 100"
    finally:
        session.close()


def test_ls_lh_shows_human_sizes(server):
    client = server.client()
    client.put("/files", params={"path": "/memfs/big.bin"}, content=b"x" * (3 << 20))
    line = next(ln for ln in pfs(server, "ls", "-lh", "/memfs").stdout.splitlines()
                if ln.endswith(" big.bin"))
    assert " 3.0M " in line
    assert pfs(server, "ls", "--help").stdout.startswith("usage: pfs ls")
