"""Streaming through the SDK: 200 MiB in bounded memory, and the stall timeout."""

from __future__ import annotations

import socket
import threading
import tracemalloc
import uuid

import pytest
import xxhash

from pfs.client import AsyncClient, Client, StallTimeout

MIB = 1024 * 1024
TOTAL = 200 * MIB
CHUNK = 256 * 1024
# Peak Python allocations while moving TOTAL bytes; buffering the payload would need >= 200 MiB.
MEMORY_BOUND = 16 * MIB


def pattern_chunks(total: int):
    """Distinct chunks (not one repeated buffer) so a mismatch in order shows up in the digest."""
    for i in range(total // CHUNK):
        yield i.to_bytes(8, "big") * (CHUNK // 8)


def expected_digest(total: int) -> str:
    hasher = xxhash.xxh3_128()
    for chunk in pattern_chunks(total):
        hasher.update(chunk)
    return format(hasher.intdigest() & (2**64 - 1), "016x")


def test_200mib_streamed_upload_and_download_in_bounded_memory(server):
    path = f"/memfs/big-{uuid.uuid4().hex[:8]}"
    with Client(server.url) as client:
        tracemalloc.start()
        try:
            client.write(path, pattern_chunks(TOTAL))
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            hasher = xxhash.xxh3_128()
            received = 0
            for chunk in client.iter_cat(path):
                hasher.update(chunk)
                received += len(chunk)
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        try:
            assert received == TOTAL
            digest = format(hasher.intdigest() & (2**64 - 1), "016x")
            assert digest == expected_digest(TOTAL) == client.digest(path)
            assert upload_peak < MEMORY_BOUND, upload_peak
            assert download_peak < MEMORY_BOUND, download_peak
        finally:
            client.rm(path)


async def test_async_streamed_transfer_in_bounded_memory(server, tmp_path):
    total = 48 * MIB
    path = f"/memfs/abig-{uuid.uuid4().hex[:8]}"
    local = tmp_path / "down.bin"
    async with AsyncClient(server.url) as client:
        tracemalloc.start()
        try:
            await client.write(path, pattern_chunks(total))
            assert await client.download(path, local) == total
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert local.stat().st_size == total
        assert peak < MEMORY_BOUND, peak
        assert await client.digest(path) == expected_digest(total)
        await client.rm(path)


class StallingServer:
    """Answers any request with 200 headers and one chunk, then sends nothing until closed."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._release.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
                )
                self._release.wait(30)

    def close(self) -> None:
        self._release.set()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def stalling():
    server = StallingServer()
    yield server
    server.close()


def test_stalled_stream_raises_stall_timeout(stalling):
    received = []
    with Client(stalling.url, stall_timeout=0.5) as client:
        with pytest.raises(StallTimeout, match="no data received for 0.5s"):
            for chunk in client.iter_cat("/streamfs/idle", stream=True):
                received.append(chunk)
    assert received == [b"first"]


async def test_async_stalled_stream_raises_stall_timeout(stalling):
    received = []
    async with AsyncClient(stalling.url, stall_timeout=0.5) as client:
        with pytest.raises(StallTimeout):
            async for chunk in client.iter_cat("/streamfs/idle", stream=True):
                received.append(chunk)
    assert received == [b"first"]
