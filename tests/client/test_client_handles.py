"""The SDK's handles (Client.open_handle, AsyncClient.open_handle) against a real server."""

from __future__ import annotations

import io
import uuid

import pytest

from pfs.client import (
    AlreadyExists,
    AsyncClient,
    AsyncRemoteHandle,
    Client,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    RemoteHandle,
)
from pfs.fs import OpenFlag


@pytest.fixture
def client(server):
    with Client(server.url) as c:
        yield c


@pytest.fixture
def path(client):
    name = f"/memfs/h-{uuid.uuid4().hex[:8]}.txt"
    yield name
    client.rm(name)


def test_open_read_write_seek_close(client, path):
    client.write(path, b"0123456789")
    with client.open_handle(path, "r+") as handle:
        assert isinstance(handle, RemoteHandle) and handle.flags == OpenFlag.RDWR
        assert handle.read(4) == b"0123"
        assert handle.tell() == 4
        assert handle.write(b"ab") == 2
        assert handle.read(2, offset=0) == b"01"
        assert handle.seek(-2, io.SEEK_END) == 8
        assert handle.read() == b"89"
        assert handle.read() == b""
        handle.truncate(3)
        handle.sync()
        assert handle.stat().size == 3
        assert handle.info()["position"] == 10
        assert handle.renew(90)["lease"] == 90
        assert [h["handle_id"] for h in client.handles()] == [handle.id]
    assert client.cat(path) == b"012"
    assert client.handles() == []
    with pytest.raises(NotFound, match="handle not found"):
        handle.closed = False
        handle.read()


def test_modes_map_to_open_flags(client, path):
    with client.open_handle(path, "w") as handle:
        handle.write("hello")
    with client.open_handle(path, "a") as handle:
        handle.write(b" world")
        assert handle.tell() == 11
    assert client.cat(path) == b"hello world"
    with pytest.raises(AlreadyExists):
        client.open_handle(path, "x")
    with client.open_handle(path, "w", mode=0o600):
        pass
    assert client.cat(path) == b""
    with pytest.raises(ValueError, match="invalid mode"):
        client.open_handle(path, "rw")


def test_typed_errors(client, path):
    with pytest.raises(NotFound):
        client.open_handle(path)
    with pytest.raises(NotSupported):
        client.open_handle("/hellofs/hello", "r+")
    client.write(path, b"x")
    with client.open_handle(path) as handle:
        with pytest.raises(PermissionDenied):
            handle.write(b"no")
        with pytest.raises(InvalidArgument):
            handle.seek(-5)


def test_reading_to_the_end_asks_in_pieces(client, path):
    data = bytes(range(256)) * (12 << 10)  # 3 MiB: three reads of 1 MiB, then the empty one
    client.write(path, data)
    with client.open_handle(path) as handle:
        assert handle.read() == data
        assert handle.read(5, offset=len(data) - 5) == data[-5:]
        handle.seek(10)
        assert b"".join(handle.iter_stream()) == data[10:]


async def test_async_twin(server, client, path):
    client.write(path, b"abcdef")
    async with AsyncClient(server.url) as aclient:
        async with await aclient.open_handle(path, "r+") as handle:
            assert isinstance(handle, AsyncRemoteHandle)
            assert await handle.read(3) == b"abc"
            assert await handle.write(b"XY") == 2
            assert await handle.tell() == 5
            assert await handle.seek(0) == 0
            assert await handle.read() == b"abcXYf"
            assert (await handle.stat()).size == 6
            assert [h["handle_id"] for h in await aclient.handles()] == [handle.id]
            assert [chunk async for chunk in handle.iter_stream()] == []
            await handle.truncate(2)
            await handle.sync()
            assert (await handle.renew())["lease"] == 60
            assert (await handle.info())["path"] == path
        assert await aclient.handles() == []
    assert client.cat(path) == b"ab"
