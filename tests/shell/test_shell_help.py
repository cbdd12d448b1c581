"""Help and usage of the real ``pfs`` command: printed once, naming ``pfs CMD`` one-shot and
``CMD`` inside ``pfs sh``; ``pfs sh --help``; suggestions for mistyped commands."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers.shell import Repl

PFS = [sys.executable, "-m", "pfs.shell.cli"]


def pfs(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PFS_API_URL": "http://127.0.0.1:9"}  # nothing listens: help needs none
    return subprocess.run([*PFS, *args], capture_output=True, text=True, env=env, timeout=60)


def test_command_help_is_printed_once_and_names_pfs_cmd():
    done = pfs("cat", "-h")
    assert done.returncode == 0
    assert done.stdout.count("usage:") == 1
    assert done.stdout.startswith("usage: pfs cat [-h]")


def test_a_usage_error_names_pfs_cmd():
    done = pfs("ls", "--bogus")
    assert done.returncode == 2
    assert done.stderr.strip() == "pfs ls: unrecognized arguments: --bogus"


def test_sh_help_shows_help_without_a_server():
    done = pfs("sh", "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: pfs [--server URL]")
    assert "interactive shell" in done.stdout


def test_top_level_help_lists_fuse_and_mcp():
    listing = pfs("--help").stdout
    assert "\n  fuse " in listing and "\n  mcp " in listing


def test_a_mistyped_command_gets_a_suggestion():
    done = pfs("lss", "/")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "pfs: unknown command 'lss'; did you mean ls? (pfs --help lists commands)"
    )
    assert pfs("zzzzzz").stderr.strip() == (
        "pfs: unknown command 'zzzzzz' (pfs --help lists commands)"
    )


def test_help_inside_the_shell_is_printed_once(server, tmp_path):
    session = Repl(server.url, str(tmp_path))
    session.start()
    try:
        out = session.run("cat -h")
        assert out.count("usage:") == 1
        assert "usage: cat [-h]" in out
    finally:
        session.close()
