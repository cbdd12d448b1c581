"""Streaming through the whole stack on a real server: 1 GiB in and out of localfs and memfs with
the server's memory measured, Range requests, disconnects, and the body limit."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xxhash

from pfs.testing.server import ServerProcess

GIB = 1 << 30
BLOCK = 1 << 20
RSS_GROWTH_LIMIT = 64 << 20


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("localfs")


@pytest.fixture(scope="module")
def server(local_dir):
    config = {
        "server": {"max_body_bytes": "4MB"},
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "kvfs": {"enabled": True, "path": "/kvfs"},
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(local_dir)}},
        },
    }
    with ServerProcess(config) as proc:
        yield proc


def data_blocks(count: int, seed: int = 7) -> Iterator[bytes]:
    """``count`` distinct 1 MiB blocks, made cheaply: one random block stamped with its index."""
    base = bytearray(os.urandom(BLOCK))
    for index in range(count):
        stamp = f"[{seed}:{index:010d}]".encode()
        base[: len(stamp)] = stamp
        base[BLOCK // 2 : BLOCK // 2 + len(stamp)] = stamp
        yield bytes(base)


class RssSampler(threading.Thread):
    """Samples the server's RSS until stopped; ``peak`` is the largest value seen."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak = server.rss_bytes()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, self.server.rss_bytes())

    def __enter__(self) -> RssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def upload(server: ServerProcess, path: str, blocks: Iterator[bytes]) -> tuple[str, int]:
    digest = xxhash.xxh3_128()

    def body() -> Iterator[bytes]:
        for piece in blocks:
            digest.update(piece)
            yield piece

    response = httpx.put(server.api + "/files", params={"path": path}, content=body(),
                         timeout=300)
    assert response.status_code == 200, response.text
    return digest.hexdigest(), response


def download(server: ServerProcess, path: str) -> tuple[str, int]:
    digest = xxhash.xxh3_128()
    size = 0
    with httpx.stream("GET", server.api + "/files", params={"path": path}, timeout=300) as r:
        assert r.status_code == 200
        for piece in r.iter_raw():
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


def test_localfs_1gib_round_trip_in_bounded_memory(server, local_dir):
    """1 GiB up and down through localfs: same bytes back, server RSS grows ≤ 64 MiB."""
    start_rss = server.rss_bytes()
    with RssSampler(server) as sampler:
        sent, response = upload(server, "/local/big.bin", data_blocks(GIB // BLOCK))
        assert response.json() == {"message": f"Written {GIB} bytes to /big.bin"}
        received, size = download(server, "/local/big.bin")
    assert size == GIB and (local_dir / "big.bin").stat().st_size == GIB
    assert received == sent
    assert sampler.peak - start_rss <= RSS_GROWTH_LIMIT, (start_rss, sampler.peak)
    (local_dir / "big.bin").unlink()


def test_memfs_1gib_round_trip_reads_without_a_copy(server, api):
    """1 GiB through memfs: it holds the data once; the download adds no whole copy."""
    sent, _ = upload(server, "/memfs/big.bin", data_blocks(GIB // BLOCK, seed=8))
    after_upload = server.rss_bytes()
    with RssSampler(server) as sampler:
        received, size = download(server, "/memfs/big.bin")
    assert size == GIB and received == sent
    assert sampler.peak - after_upload <= RSS_GROWTH_LIMIT, (after_upload, sampler.peak)
    api.delete("/files", params={"path": "/memfs/big.bin"})


@pytest.fixture(params=["/memfs", "/local"])
def thousand(request, api) -> str:
    path = f"{request.param}/thousand.bin"
    api.put("/files", params={"path": path}, content=bytes(range(250)) * 4)
    yield path
    api.delete("/files", params={"path": path})


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=-100", 900, 999), ("bytes=990-", 990, 999),
     ("bytes=950-5000", 950, 999), ("bytes=-5000", 0, 999)],
)
def test_range_request(api, thousand, header, start, end):
    response = api.get("/files", params={"path": thousand}, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/1000"
    assert response.content == (bytes(range(250)) * 4)[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(api, thousand, header):
    response = api.get("/files", params={"path": thousand}, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1000"
    assert "range not satisfiable" in response.json()["error"]


@pytest.mark.parametrize("header", ["bytes=200-100", "items=0-5", "bytes=0-1,5-6", "bytes=x-"])
def test_unusable_range_header_is_ignored(api, thousand, header):
    """RFC 9110: a range the server cannot use is ignored and the whole file sent."""
    response = api.get("/files", params={"path": thousand}, headers={"Range": header})
    assert response.status_code == 200 and len(response.content) == 1000


def test_range_on_missing_file_is_404(api):
    response = api.get("/files", params={"path": "/local/none"}, headers={"Range": "bytes=0-1"})
    assert response.status_code == 404


def test_offset_and_size_across_pieces(api, local_dir):
    """offset/size reads that cross the 1 MiB read pieces of localfs and memfs."""
    data = b"".join(data_blocks(3, seed=3))
    for mount in ("/memfs", "/local"):
        api.put("/files", params={"path": f"{mount}/three.bin"}, content=data)
        for offset, size in ((BLOCK - 10, 2 * BLOCK + 20), (5, 10), (3 * BLOCK - 1, 100),
                             (4 * BLOCK, 10), (BLOCK, -1)):
            response = api.get("/files", params={"path": f"{mount}/three.bin",
                                                 "offset": offset, "size": size})
            end = len(data) if size < 0 else offset + size
            assert response.content == data[offset:end], (mount, offset, size)
        api.delete("/files", params={"path": f"{mount}/three.bin"})


def test_stream_true_on_localfs_sends_the_file_chunked(api):
    data = b"".join(data_blocks(2, seed=4))
    api.put("/files", params={"path": "/local/s.bin"}, content=data)
    response = api.get("/files", params={"path": "/local/s.bin", "stream": "true"})
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == data
    api.delete("/files", params={"path": "/local/s.bin"})


def open_fds_to(server: ServerProcess, target: Path) -> int:
    fd_dir = Path(f"/proc/{server.worker_pid()}/fd")
    count = 0
    for link in fd_dir.iterdir():
        try:
            if os.readlink(link) == str(target):
                count += 1
        except OSError:
            continue
    return count


def wait_until(predicate, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_disconnect_mid_download_closes_the_file(server, api, local_dir):
    """A client that leaves mid-download frees the server's file handle at once."""
    upload(server, "/local/leave.bin", data_blocks(64, seed=5))
    target = local_dir / "leave.bin"
    with socket.socket() as sock:
        # A small receive buffer keeps the kernel from soaking up the whole file.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /api/v1/files?path=/local/leave.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        wait_until(lambda: open_fds_to(server, target) >= 1, "the download to be running")
    wait_until(lambda: open_fds_to(server, target) == 0, "the file to be closed")
    api.delete("/files", params={"path": "/local/leave.bin"})


def test_disconnect_mid_upload_keeps_old_content(server, api, local_dir):
    """An abandoned upload leaves the previous file as it was and no temporary file behind."""
    api.put("/files", params={"path": "/local/keep.txt"}, content=b"old content")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"PUT /api/v1/files?path=/local/keep.txt HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 10485760\r\n\r\n" + b"n" * (3 << 20))
    wait_until(lambda: not [p for p in local_dir.iterdir() if "pfs-upload" in p.name],
               "the temporary upload to be removed")
    assert (local_dir / "keep.txt").read_bytes() == b"old content"
    api.delete("/files", params={"path": "/local/keep.txt"})


def test_body_limit_applies_only_to_buffering_plugins(server, api, local_dir):
    """max_body_bytes (4MB here) refuses a big body for kvfs (413, value unchanged) and does not
    limit memfs or localfs, which take the body as a stream."""
    big = b"".join(data_blocks(5, seed=6))
    api.put("/files", params={"path": "/kvfs/keys/k"}, content=b"small")
    url = server.api + "/files?path=/kvfs/keys/k"
    # Each refused upload on its own connection: the server answers before reading the rest of
    # the body and then closes that connection.
    response = httpx.put(url, content=big, timeout=60)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    chunked = httpx.put(url, content=iter([big[:3 << 20]] * 2), timeout=60)
    assert chunked.status_code == 413
    assert api.get("/files", params={"path": "/kvfs/keys/k"}).content == b"small"
    for mount in ("/memfs", "/local"):
        response = api.put("/files", params={"path": f"{mount}/five.bin"}, content=big)
        assert response.status_code == 200, response.text
        assert api.get("/files", params={"path": f"{mount}/five.bin"}).content == big
        api.delete("/files", params={"path": f"{mount}/five.bin"})
