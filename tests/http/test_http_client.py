"""The pooled HTTP/1.1 client (``pfs.http.client.Pool``, proxyfs's) against a real pfs-server
and against small raw asyncio servers that misbehave in the ways a real remote can."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme

from pfs.http import client as http1
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.server import free_port

# A memfs-only server per module; the root conftest's ``api`` talks to it.
server = server_fixture(MEMFS_ONLY)

#: Bytes asyncio's socket transport reads at most per ``recv`` (selector event loop).
SOCKET_READ = 256 * 1024
MiB = 1 << 20


@contextlib.asynccontextmanager
async def open_pool(url: str, **options) -> AsyncIterator[http1.Pool]:
    pool = http1.Pool(url, **options)
    try:
        yield pool
    finally:
        await pool.aclose()


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait for ``condition`` to hold (it follows from events the loop has yet to run)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def pieces(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a fixed pattern, ``size`` at a time, yielding to the loop each time."""
    piece = hashlib.sha256(b"pattern").digest() * (size // 32)
    for _ in range(total // size):
        await asyncio.sleep(0)
        yield piece


# -- against a real pfs-server ---------------------------------------------------------------


def files(path: str) -> str:
    return f"/api/v1/files?path=/memfs/{path}"


async def put(pool: http1.Pool, path: str, body: http1.Body) -> None:
    response = await pool.request("PUT", files(path), body=body)
    assert (response.status, await response.read()) == (200, b'{"message":""}\n')


async def get(pool: http1.Pool, path: str) -> bytes:
    response = await pool.request("GET", files(path))
    assert response.status == 200
    return await response.read()


async def test_put_bytes_then_get_returns_them(server):
    data = os.urandom(300_000)
    async with open_pool(server.url) as pool:
        await put(pool, "bytes", data)
        assert await get(pool, "bytes") == data


async def test_streamed_chunked_put_then_chunked_get(server):
    async def uneven(total: int) -> AsyncIterator[bytes]:
        """Pieces of uneven sizes adding up to ``total`` bytes, with empty ones between (which
        must not end the chunked body)."""
        sent, step = 0, 0
        while sent < total:
            step = (step * 7919 + 4099) % (200 * 1024)
            piece = os.urandom(min(step, total - sent))
            sent += len(piece)
            digest.update(piece)
            yield piece
            yield b""

    digest = hashlib.sha256()
    async with open_pool(server.url) as pool:
        await put(pool, "streamed", uneven(6 * MiB))
        response = await pool.request("GET", files("streamed"))
        received = hashlib.sha256()
        async for chunk in response.chunks():
            received.update(chunk)
    assert received.hexdigest() == digest.hexdigest()


async def test_sequential_requests_reuse_one_connection(server):
    async with open_pool(server.url) as pool:
        await put(pool, "small", b"x" * 1024)
        sockets = set()
        for _ in range(30):
            response = await pool.request("GET", files("small"))
            sockets.add(response._conn.transport.get_extra_info("sockname"))
            assert await response.read() == b"x" * 1024
            assert pool._open == 1
    assert len(sockets) == 1


async def test_error_answer_has_its_status_and_a_readable_body(server):
    async with open_pool(server.url) as pool:
        response = await pool.request("GET", files("missing"))
        assert response.status == 404
        assert response.headers[b"x-pfs-error-kind"] == b"NotFound"
        assert "no such file" in json.loads(await response.read())["error"]
        assert pool._open == 1  # and the connection stays for the next request


async def test_connection_limit_holds_under_many_concurrent_requests(server):
    data = os.urandom(256 * 1024)
    async with open_pool(server.url, limit=4) as pool:
        await put(pool, "shared", data)
        peak = 0

        async def fetch() -> bytes:
            nonlocal peak
            response = await pool.request("GET", files("shared"))
            parts = []
            async for chunk in response.chunks():
                peak = max(peak, pool._open)
                parts.append(chunk)
            return b"".join(parts)

        bodies = await asyncio.gather(*(fetch() for _ in range(50)))
    assert all(body == data for body in bodies)
    assert peak == 4


# -- against raw servers ---------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Serves each connection with ``handle`` and closes it when that returns; counts them."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.url = ""
        self.accepted = 0
        self.finished = 0
        self.tasks: set[asyncio.Task] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())
        self.accepted += 1
        try:
            await self.handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.finished += 1
            writer.close()


@contextlib.asynccontextmanager
async def raw_server(
    handle: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    """A ``RawServer`` on a free loopback port (``.url``; HTTPS with ``tls``), stopped with its
    handlers after."""
    raw = RawServer(handle)
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0, ssl=tls)
    scheme = "https" if tls else "http"
    raw.url = f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield raw
    finally:
        server.close()
        for task in raw.tasks:
            task.cancel()
        await asyncio.gather(*raw.tasks, return_exceptions=True)
        await server.wait_closed()


def answer(status: int = 200, body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request with a ``Content-Length`` body (or none); its head."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers ``ok`` to every request until the client closes."""
    while not reader.at_eof():
        await read_request(reader)
        writer.write(answer())
        await writer.drain()


async def answer_once_then_drop(reader, writer) -> None:
    """Answers one request; the next one on the connection is dropped unanswered (as a server
    that closes an idle keep-alive connection just as the client reuses it)."""
    await read_request(reader)
    writer.write(answer())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")


async def answer_once_then_close(reader, writer) -> None:
    await read_request(reader)
    writer.write(answer())
    await writer.drain()


async def ok(pool: http1.Pool, method: str = "GET", body: http1.Body = None) -> None:
    response = await asyncio.wait_for(pool.request(method, "/", body=body), 2)
    assert (response.status, await response.read()) == (200, b"ok")


async def test_get_on_a_dropped_reused_connection_is_sent_again_on_a_fresh_one():
    async with raw_server(answer_once_then_drop) as raw, open_pool(raw.url) as pool:
        await ok(pool)
        await ok(pool)
        assert raw.accepted == 2


async def test_put_on_a_dropped_reused_connection_raises_rather_than_resending():
    async with raw_server(answer_once_then_drop) as raw, open_pool(raw.url) as pool:
        await ok(pool)
        with pytest.raises(http1.ConnectionBroken):
            await asyncio.wait_for(pool.request("PUT", "/", body=b"data"), 2)
        assert raw.accepted == 1
        assert pool._open == 0


async def test_connection_the_server_closed_while_idle_is_not_reused():
    async with raw_server(answer_once_then_close) as raw, open_pool(raw.url) as pool:
        await ok(pool)
        await until(lambda: pool._open == 0)  # the client has seen the close
        await ok(pool, "PUT", b"data")
        await ok(pool)  # noticed or not, a GET gets through
        assert raw.accepted == 3


async def test_expired_idle_connection_is_replaced_at_the_connection_limit():
    """An idle connection past ``idle_timeout`` is closed and a fresh one made in its place,
    even when it was the one connection the limit allows."""
    async with (
        raw_server(keep_alive) as raw,
        open_pool(raw.url, limit=1, idle_timeout=0.05) as pool,
    ):
        await ok(pool)
        await asyncio.sleep(0.1)
        await ok(pool)
        assert raw.accepted == 2


async def test_silent_server_times_out():
    async def never_answer(reader, writer) -> None:
        await read_request(reader)
        await asyncio.sleep(3600)

    async with raw_server(never_answer) as raw, open_pool(raw.url) as pool:
        start = time.monotonic()
        with pytest.raises(http1.TimedOut):
            await pool.request("GET", "/", timeout=0.3)
        assert 0.3 <= time.monotonic() - start < 1.0
        assert pool._open == 0


async def test_server_that_stops_reading_an_upload_times_out():
    async def read_head_only(reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(3600)  # never reads the body: the socket buffers fill up

    async with raw_server(read_head_only) as raw, open_pool(raw.url) as pool:
        start = time.monotonic()
        with pytest.raises(http1.TimedOut):
            await asyncio.wait_for(pool.request("PUT", "/", body=pieces(1 << 30), timeout=0.3), 10)
        assert time.monotonic() - start < 5
        assert pool._open == 0


async def test_answer_that_is_not_http_breaks_the_connection():
    async def garbage(reader, writer) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await asyncio.sleep(3600)  # left open: the parser, not a close, must notice

    async with raw_server(garbage) as raw, open_pool(raw.url) as pool:
        with pytest.raises(http1.ConnectionBroken, match="invalid HTTP answer"):
            await asyncio.wait_for(pool.request("GET", "/"), 2)
        assert pool._open == 0


async def test_https_verifies_the_server_certificate(tmp_path, monkeypatch):
    """TLS to a remote whose certificate chains to a trusted CA works (keep-alive included);
    an untrusted one fails to connect, naming the verification failure."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    async with raw_server(keep_alive, tls) as raw:
        async with open_pool(raw.url) as pool:
            with pytest.raises(http1.ConnectFailed, match="certificate verify failed"):
                await pool.request("GET", "/")
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        async with open_pool(raw.url) as pool:
            for _ in range(3):
                await ok(pool)
            assert raw.accepted == 1  # the refused handshake never got this far; one kept alive


async def test_nothing_listening_fails_to_connect():
    async with open_pool(f"http://127.0.0.1:{free_port()}") as pool:
        with pytest.raises(http1.ConnectFailed):
            await pool.request("GET", "/")
        assert pool._open == 0


async def test_large_body_read_slowly_stays_bounded_in_memory():
    total = 64 * MiB
    block = os.urandom(MiB)
    sent = 0

    async def large(reader, writer) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        while sent < total:
            writer.write(block)
            sent += len(block)
            await writer.drain()

    async with raw_server(large) as raw, open_pool(raw.url) as pool:
        response = await pool.request("GET", "/")
        await asyncio.sleep(0.3)  # not reading: the buffer fills, then the socket is paused
        assert http1.HIGH_WATER < response._buffered <= http1.HIGH_WATER + SOCKET_READ
        assert sent < total // 2  # the pause reaches the server
        peak, digest, count = 0, hashlib.sha256(), 0
        async for chunk in response.chunks():
            peak = max(peak, response._buffered + len(chunk))
            digest.update(chunk)
            count += 1
            if count % 8 == 0:
                await asyncio.sleep(0.01)
    assert peak <= http1.HIGH_WATER + SOCKET_READ
    assert digest.digest() == hashlib.sha256(block * (total // MiB)).digest()


def too_large(*, drain: bool) -> Handler:
    """Answers 413 to a request as soon as its head is in, then closes: after reading the rest
    of the upload (``drain``, a graceful close), or at once (unread data: a reset)."""

    async def handle(reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer(413, b"too large", b"Connection: close\r\n"))
        await writer.drain()
        while drain and await reader.read(MiB):
            pass

    return handle


async def upload_into(pool: http1.Pool) -> tuple[http1.Response, int]:
    """A 1 GiB streamed PUT; the answer and how many bytes the upload produced."""
    produced = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal produced
        async for piece in pieces(1 << 30):
            produced += len(piece)
            yield piece

    response = await asyncio.wait_for(pool.request("PUT", "/", body=counted()), 5)
    return response, produced


async def test_early_answer_stops_a_streamed_upload():
    async with raw_server(too_large(drain=True)) as raw, open_pool(raw.url) as pool:
        response, produced = await upload_into(pool)
        assert (response.status, await response.read()) == (413, b"too large")
        assert produced < 64 * MiB
        await until(lambda: pool._open == 0)  # "Connection: close" is honoured


async def test_early_answer_and_reset_end_a_streamed_upload_without_hanging():
    async with raw_server(too_large(drain=False)) as raw, open_pool(raw.url) as pool:
        try:
            response, produced = await upload_into(pool)
        except http1.ConnectionBroken:
            pass  # the reset overtook the answer
        else:
            assert response.status == 413
            assert produced < 64 * MiB


def stall_the_first_answer() -> Handler:
    """The first request gets a head and half its body, then nothing; later ones ``ok``."""
    answered = 0

    async def handle(reader, writer) -> None:
        nonlocal answered
        await read_request(reader)
        answered += 1
        if answered == 1:
            writer.write(b"HTTP/1.1 200 X\r\nContent-Length: 100\r\n\r\n" + b"h" * 50)
            await asyncio.sleep(3600)
        writer.write(answer())
        await keep_alive(reader, writer)

    return handle


@pytest.mark.parametrize("abandon", ["unstarted chunks closed", "read cancelled"])
async def test_abandoned_answer_frees_its_connection(abandon):
    """A body given up half way (its iterator closed before the first piece, as a server does
    with a stream it never sends, or its read cancelled) must not keep the pool's only slot."""
    async with raw_server(stall_the_first_answer()) as raw, open_pool(raw.url, limit=1) as pool:
        response = await pool.request("GET", "/", timeout=2)
        if abandon == "read cancelled":
            reading = asyncio.ensure_future(response.read())
            await asyncio.sleep(0.05)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
        else:
            await response.chunks(timeout=2).aclose()
        await ok(pool)
        assert pool._open == 1


async def test_aclose_closes_idle_connections():
    async with raw_server(keep_alive) as raw:
        pool = http1.Pool(raw.url)
        await ok(pool)
        await ok(pool)
        assert (raw.accepted, raw.finished, pool._open) == (1, 0, 1)
        await pool.aclose()
        await until(lambda: raw.finished == 1)  # the server sees the close
        await until(lambda: pool._open == 0)
        with pytest.raises(http1.ConnectionBroken, match="client closed"):
            await pool.request("GET", "/")
