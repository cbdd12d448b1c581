"""The SDK's truncate, symlink and readlink, blocking and async, and their typed errors."""

from __future__ import annotations

import uuid

import pytest

from pfs.client import (
    AlreadyExists,
    AsyncClient,
    Client,
    NotFound,
    SymlinkLoop,
    TooLarge,
)


@pytest.fixture
def client(server):
    with Client(server.url) as c:
        yield c


@pytest.fixture
def d(client):
    path = f"/memfs/links-{uuid.uuid4().hex[:8]}"
    client.mkdir(path)
    yield path
    client.rm(path, recursive=True)


def test_truncate(client, d):
    client.write(f"{d}/f", b"hello world")
    assert client.truncate(f"{d}/f", 5) == "truncated"
    assert client.cat(f"{d}/f") == b"hello"
    client.truncate(f"{d}/f", 7)
    assert client.cat(f"{d}/f") == b"hello\0\0"
    with pytest.raises(NotFound):
        client.truncate(f"{d}/missing", 0)
    with pytest.raises(TooLarge, match="max_file_size"):
        client.truncate(f"{d}/f", 1 << 40)
    client.truncate("/hellofs/hello", 0)  # accepted, changes nothing
    assert client.cat("/hellofs/hello") == b"Hello, World!\n"


def test_symlink_and_readlink(client, d):
    client.write(f"{d}/target", b"through the link")
    assert client.symlink(f"{d}/target", f"{d}/link") == "symlink created"
    assert client.readlink(f"{d}/link") == f"{d}/target"
    assert client.cat(f"{d}/link") == b"through the link"
    info = client.stat(f"{d}/link")
    assert info.meta.type == "symlink" and info.meta.content == {"target": f"{d}/target"}
    assert {e.name: e.meta.type for e in client.ls(d)}["link"] == "symlink"
    with pytest.raises(AlreadyExists):
        client.symlink("elsewhere", f"{d}/link")
    with pytest.raises(NotFound):
        client.readlink(f"{d}/target")
    with pytest.raises(SymlinkLoop):
        client.symlink("loop", f"{d}/loop")
    client.rm(f"{d}/link")
    assert client.cat(f"{d}/target") == b"through the link"


def test_download_of_a_tree_skips_links(client, d, tmp_path):
    """A link back up the tree would otherwise never end a recursive download."""
    client.mkdir(f"{d}/sub")
    client.write(f"{d}/sub/f", b"x")
    client.symlink("..", f"{d}/sub/up")
    client.download(d, tmp_path / "copy", recursive=True)
    assert sorted(p.name for p in (tmp_path / "copy").rglob("*")) == ["f", "sub"]


async def test_async_truncate_symlink_readlink(server):
    async with AsyncClient(server.url) as client:
        path = f"/memfs/alinks-{uuid.uuid4().hex[:8]}"
        await client.write(path, b"0123456789")
        assert await client.truncate(path, 4) == "truncated"
        assert await client.cat(path) == b"0123"
        assert await client.symlink(path, f"{path}-link") == "symlink created"
        assert await client.readlink(f"{path}-link") == path
        assert await client.cat(f"{path}-link") == b"0123"
        with pytest.raises(NotFound):
            await client.readlink(path)
        await client.rm(f"{path}-link")
        await client.rm(path)
