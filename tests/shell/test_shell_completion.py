"""``pfs completion bash|zsh|fish``: the script printed by the real ``pfs`` command, sourced in a
real bash; remote paths complete by running ``pfs ls -1`` against the real server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pfs.client import Client

PFS = [sys.executable, "-m", "pfs.shell.cli"]


def pfs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PFS, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def pfs_on_path(tmp_path) -> dict[str, str]:
    """An environment where ``pfs`` is this checkout's command (what the script calls back)."""
    wrapper = tmp_path / "bin" / "pfs"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m pfs.shell.cli "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}"}


def complete(env: dict[str, str], *words: str) -> list[str]:
    """COMPREPLY of bash's completion function for the command line ``words`` (last: partial)."""
    line = " ".join(f"'{w}'" for w in words)
    bash = (
        "source <(pfs completion bash) || exit 9\n"
        "complete -p pfs\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
        "_pfs\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", bash], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    registered, *replies = done.stdout.splitlines()
    assert registered == "complete -F _pfs pfs"
    return [r for r in replies if r]


def test_bash_completes_commands_and_their_options(pfs_on_path):
    assert complete(pfs_on_path, "pfs", "up") == ["upload"]
    assert complete(pfs_on_path, "pfs", "m") == ["mkdir", "mount", "mounts", "mv", "mcp"]
    assert complete(pfs_on_path, "pfs", "--json", "dow") == ["download"]
    assert complete(pfs_on_path, "pfs", "--no") == ["--no-color"]
    # options come from the command's own parser
    assert complete(pfs_on_path, "pfs", "ls", "--h") == ["--help", "--human-readable"]
    assert complete(pfs_on_path, "pfs", "cp", "--r") == ["--recursive"]
    assert complete(pfs_on_path, "pfs", "completion", "") == ["bash", "zsh", "fish"]


def test_bash_completes_remote_paths_from_the_server(pfs_on_path, server):
    base = f"/memfs/comp-{uuid.uuid4().hex[:8]}"
    with Client(server.url) as client:
        client.mkdir(f"{base}/photos", parents=True)
        client.write(f"{base}/plan.txt", b"x")
        client.write(f"{base}/notes.txt", b"y")
    replies = complete(pfs_on_path, "pfs", "--server", server.url, "cat", f"{base}/p")
    assert sorted(replies) == [f"{base}/photos/", f"{base}/plan.txt"]


def test_local_paths_complete_as_files(pfs_on_path, tmp_path):
    (tmp_path / "report.csv").write_text("a")
    env = {**pfs_on_path}
    done = subprocess.run(
        [
            "bash",
            "--norc",
            "-c",
            f"cd {tmp_path} && source <(pfs completion bash) && COMP_WORDS=(pfs upload rep) "
            '&& COMP_CWORD=2 && _pfs && echo "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.stdout.split() == ["report.csv"]


def test_zsh_and_fish_scripts_name_every_command_and_option():
    zsh = pfs("completion", "zsh")
    assert zsh.returncode == 0
    assert "bashcompinit" in zsh.stdout and "complete -F _pfs pfs" in zsh.stdout
    fish = pfs("completion", "fish").stdout
    assert "complete -c pfs -n __fish_use_subcommand -a upload" in fish
    assert "complete -c pfs -n '__fish_seen_subcommand_from ls' -l human-readable" in fish
    assert "complete -c pfs -n '__fish_seen_subcommand_from ls' -s 1" in fish


def test_an_unknown_shell_is_a_usage_error():
    done = pfs("completion", "tcsh")
    assert done.returncode == 2
    assert done.stderr.strip() == "usage: pfs completion {bash,zsh,fish}"
    assert not Path("tcsh").exists()
