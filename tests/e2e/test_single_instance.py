"""One server per address: a pfs-server never shares its address with another process."""

from __future__ import annotations

import errno
import socket
import subprocess
import time

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY
from pfs.testing.server import ServerProcess, free_port

#: Generous for a loaded machine; a refused start takes about a second.
EXIT_WAIT = 20.0


def _refused(proc: ServerProcess, port: int) -> None:
    """``proc`` exits non-zero with exactly the one-line message, no traceback."""
    try:
        code = proc.proc.wait(EXIT_WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the second server kept running on a taken address:\n{proc.log()}")
    output = proc.log()
    assert code != 0
    assert output == f"pfs-server: address 127.0.0.1:{port} is already in use\n"
    assert "Traceback" not in output


def test_second_server_on_a_taken_address_exits_and_the_first_keeps_all_requests(start_server):
    first = start_server(MEMFS_ONLY)
    httpx.put(first.api + "/files", params={"path": "/memfs/owner"}, content=b"first")
    second = start_server(MEMFS_ONLY, port=first.port, wait=False)
    _refused(second, first.port)
    # A new connection per request: had the second joined the address, the kernel would have
    # handed it some of them, and its memfs has no /memfs/owner.
    answers = [
        httpx.get(first.api + "/files", params={"path": "/memfs/owner"}).content for _ in range(100)
    ]
    assert answers.count(b"first") == 100


def test_any_listening_socket_blocks_the_start(start_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _refused(start_server(MEMFS_ONLY, port=port, wait=False), port)


def test_no_socket_can_join_a_running_server_even_with_reuseport(start_server):
    """A program that skips any probe and asks for SO_REUSEPORT (as Granian does) is refused."""
    running = start_server(MEMFS_ONLY)
    with socket.socket() as joiner:
        joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with pytest.raises(OSError) as refused:
            joiner.bind(("127.0.0.1", running.port))
    assert refused.value.errno == errno.EADDRINUSE


def test_of_two_servers_started_at_once_exactly_one_serves(start_server):
    port = free_port()
    both = [start_server(MEMFS_ONLY, port=port, wait=False) for _ in range(2)]
    deadline = time.monotonic() + EXIT_WAIT
    while all(s.proc.poll() is None for s in both) and time.monotonic() < deadline:
        time.sleep(0.05)
    exited = [s for s in both if s.proc.poll() is not None]
    assert len(exited) == 1, [s.log() for s in both]
    _refused(exited[0], port)
    survivor = next(s for s in both if s is not exited[0])
    survivor.wait_ready()
    assert httpx.get(survivor.api + "/health").status_code == 200
