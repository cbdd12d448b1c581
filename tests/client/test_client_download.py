"""Downloads cut short (Ctrl-C, a killed process, a dropped or stalled connection) leave only
``.NAME.pfs-partial``, never a short file under the final name; resuming continues it with a
Range request and ends with the server's bytes."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from pfs.client import AsyncClient, Client, StallTimeout
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture

server = server_fixture(MEMFS_ONLY)

PFS = [sys.executable, "-m", "pfs.shell.cli"]
SIZE = 8 * 1024 * 1024
#: Bytes of answers the stalling relay lets through before holding the rest back.
LET_THROUGH = 2 * 1024 * 1024


class StallingRelay:
    """A loopback TCP relay to the server: passes the first ``allow`` bytes of the server's
    answers (all when None), then holds the rest back like a stalled network until ``close``
    drops every connection. ``forwarded`` counts the answer bytes passed on."""

    def __init__(self, target_port: int, allow: int | None = None) -> None:
        self._target = ("127.0.0.1", target_port)
        self._allow = allow
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = [self._listener]
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.forwarded = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                room = 65536
                if answers and self._allow is not None:
                    room = min(room, self._allow - self.forwarded)
                    if room <= 0:
                        return  # hold: the answer stalls here, its connection stays open
                data = src.recv(room)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
                if answers:
                    self.forwarded += len(data)
        except OSError:
            return

    def close(self) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def __enter__(self) -> StallingRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def big(api):
    """An 8 MiB file of random bytes in memfs and its md5; removed afterwards."""
    path = f"/memfs/big-{uuid.uuid4().hex[:8]}"
    data = os.urandom(SIZE)
    assert api.put("/files", params={"path": path}, content=data).status_code == 200
    yield path, hashlib.md5(data).hexdigest()
    api.delete("/files", params={"path": path})


def partial_path(target: Path) -> Path:
    """Where the documented contract puts an unfinished download of ``target``."""
    return target.with_name(f".{target.name}.pfs-partial")


def server_md5(api, path: str) -> str:
    return api.post("/digest", json={"path": path, "algorithm": "md5"}).json()["digest"]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def wait_for_size(path: Path, size: int, timeout: float = 60) -> None:
    """Wait until ``path`` holds at least ``size`` bytes (a progress condition, not a timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size >= size:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {size} bytes")


#: The answer headers (stat's answer, then the GET's) also pass the relay.
HEADERS_ROOM = 4096


@pytest.mark.parametrize("cut", ["SIGINT", "SIGKILL", "connection dropped"])
def test_cut_download_resumes_with_continue(server, api, big, tmp_path, cut):
    remote, digest = big
    target = tmp_path / "big.bin"
    partial = partial_path(target)
    with StallingRelay(server.port, allow=LET_THROUGH) as relay:
        proc = subprocess.Popen(
            [*PFS, "--server", relay.url, "download", remote, str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_size(partial, LET_THROUGH - HEADERS_ROOM)
            if cut == "connection dropped":
                relay.close()
            else:
                proc.send_signal(getattr(signal, cut))
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
            proc.communicate()
    expected_code = {"SIGINT": 130, "SIGKILL": -signal.SIGKILL, "connection dropped": 1}[cut]
    assert proc.returncode == expected_code, err
    assert not target.exists()
    kept = partial.stat().st_size
    assert LET_THROUGH - HEADERS_ROOM <= kept < SIZE

    with StallingRelay(server.port) as counting:
        resumed = subprocess.run(
            [*PFS, "--server", counting.url, "download", "--continue", remote, str(target)],
            capture_output=True,
            timeout=120,
        )
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    assert target.stat().st_size == SIZE
    assert md5_of(target) == digest == server_md5(api, remote)
    # Only the missing part crossed the wire: the request asked for a range.
    assert counting.forwarded < SIZE - kept + HEADERS_ROOM


def test_sdk_download_cut_by_a_stall_resumes(server, big, tmp_path):
    remote, digest = big
    target = tmp_path / "sdk.bin"
    with StallingRelay(server.port, allow=LET_THROUGH) as relay:
        with Client(relay.url, stall_timeout=1) as stalled, pytest.raises(StallTimeout):
            stalled.download(remote, target)
    assert not target.exists()
    kept = partial_path(target).stat().st_size
    assert 0 < kept < SIZE
    reports = []
    with Client(server.url) as client:
        got = client.download(remote, target, resume=True, progress=lambda *r: reports.append(r))
    assert got == SIZE
    assert reports[0] == (remote, kept, SIZE)  # picked up where it stopped
    assert reports[-1] == (remote, SIZE, SIZE)
    assert md5_of(target) == digest
    assert not partial_path(target).exists()


async def test_async_download_cut_by_a_stall_resumes(server, big, tmp_path):
    remote, digest = big
    target = tmp_path / "async.bin"
    with StallingRelay(server.port, allow=LET_THROUGH) as relay:
        async with AsyncClient(relay.url, stall_timeout=1) as stalled:
            with pytest.raises(StallTimeout):
                await stalled.download(remote, target)
    assert not target.exists()
    kept = partial_path(target).stat().st_size
    assert 0 < kept < SIZE
    with StallingRelay(server.port) as counting:
        async with AsyncClient(counting.url) as client:
            assert await client.download(remote, target, resume=True) == SIZE
    assert counting.forwarded < SIZE - kept + HEADERS_ROOM
    assert md5_of(target) == digest


def test_resume_edge_cases(server, api, tmp_path):
    remote = f"/memfs/small-{uuid.uuid4().hex[:8]}"
    api.put("/files", params={"path": remote}, content=b"0123456789")
    target = tmp_path / "small"
    partial = partial_path(target)
    with Client(server.url) as client:
        # A partial that already holds every byte (cut before the rename) is just renamed.
        partial.write_bytes(b"0123456789")
        assert client.download(remote, target, resume=True) == 10
        assert target.read_bytes() == b"0123456789" and not partial.exists()
        # Resuming keeps a complete target instead of fetching it again (like wget -c).
        assert client.download(remote, target, resume=True) == 10
        # A partial larger than the remote file is no prefix of it: start over.
        target.unlink()
        partial.write_bytes(b"x" * 20)
        assert client.download(remote, target, resume=True) == 10
        assert target.read_bytes() == b"0123456789"
        # Without resume a stale partial is overwritten, not continued.
        partial.write_bytes(b"01234")
        target.unlink()
        assert client.download(remote, target) == 10
        assert target.read_bytes() == b"0123456789" and not partial.exists()
    api.delete("/files", params={"path": remote})
