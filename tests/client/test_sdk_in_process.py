"""The SDK's AsyncClient against the server app in memory (``transport=httpx.ASGITransport``):
the app is built and started as the CLI does (pfs.testing.inprocess). A fast layer on top of the
real-server client tests, not instead."""

from __future__ import annotations

import os

import httpx
import pytest

from pfs.client import (
    AlreadyExists,
    AsyncClient,
    CrossMount,
    InvalidArgument,
    IsADirectory,
    NotEmpty,
    NotFound,
    ReadOnly,
)
from pfs.testing.inprocess import running_app

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "hellofs": {"enabled": True, "path": "/hellofs"},
    }
}


@pytest.fixture
async def pfs():
    async with running_app(CONFIG) as app:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://in-process", transport=transport) as client:
            yield client


async def test_write_read_stat_ls_rm(pfs):
    await pfs.write("/memfs/a.txt", b"hello world")
    assert await pfs.cat("/memfs/a.txt") == b"hello world"
    assert await pfs.cat("/memfs/a.txt", 6, 3) == b"wor"
    info = await pfs.stat("/memfs/a.txt")
    assert (info.name, info.size, info.is_dir) == ("a.txt", 11, False)
    assert [e.name for e in await pfs.ls("/memfs")] == ["README", "a.txt"]
    await pfs.rm("/memfs/a.txt")
    assert not await pfs.exists("/memfs/a.txt")


async def test_errors_are_the_typed_tree(pfs):
    await pfs.mkdir("/memfs/d")
    await pfs.write("/memfs/d/f", b"x")
    cases = [
        (NotFound, pfs.cat("/memfs/none")),
        (IsADirectory, pfs.cat("/memfs/d")),
        (AlreadyExists, pfs.mkdir("/memfs/d")),
        (NotEmpty, pfs.rm("/memfs/d")),
        (ReadOnly, pfs.write("/hellofs/hello", b"no")),
        (CrossMount, pfs.mv("/memfs/d/f", "/hellofs/f")),
    ]
    for kind, call in cases:
        with pytest.raises(kind) as caught:
            await call
        assert type(caught.value) is kind  # the most specific class, not just the status
    assert await pfs.cat("/memfs/d/f") == b"x"  # nothing changed by the refusals


async def test_mkdir_parents(pfs):
    await pfs.mkdir("/memfs/a/b/c", parents=True)
    assert (await pfs.stat("/memfs/a/b/c")).is_dir
    await pfs.mkdir("/memfs/a/b/c", parents=True)  # already there: no error, like mkdir -p
    with pytest.raises(NotFound):
        await pfs.mkdir("/memfs/x/y")


async def test_upload_and_download_a_few_mib(pfs, tmp_path):
    data = os.urandom((3 << 20) + 17)
    local = tmp_path / "in.bin"
    local.write_bytes(data)
    assert await pfs.upload(local, "/memfs/up.bin") == len(data)
    assert (await pfs.stat("/memfs/up.bin")).size == len(data)
    out = tmp_path / "out.bin"
    assert await pfs.download("/memfs/up.bin", out) == len(data)
    assert out.read_bytes() == data


async def test_recursive_upload_and_download(pfs, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "one.txt").write_bytes(b"one\n")
    (tree / "sub" / "two.bin").write_bytes(os.urandom(1 << 20))
    await pfs.upload(tree, "/memfs/tree", recursive=True)
    assert sorted(e.name for e in await pfs.ls("/memfs/tree")) == ["one.txt", "sub"]
    back = tmp_path / "back"
    await pfs.download("/memfs/tree", back, recursive=True)
    assert (back / "one.txt").read_bytes() == b"one\n"
    assert (back / "sub" / "two.bin").read_bytes() == (tree / "sub" / "two.bin").read_bytes()


async def test_grep(pfs):
    await pfs.mkdir("/memfs/g")
    await pfs.write("/memfs/g/a.txt", b"alpha\nbeta\n")
    await pfs.write("/memfs/g/b.txt", b"Beta\ngamma\n")
    found = await pfs.grep("/memfs/g", "beta", recursive=True, case_insensitive=True)
    assert sorted((m["file"], m["line"]) for m in found["matches"]) == [
        ("/memfs/g/a.txt", 2), ("/memfs/g/b.txt", 1)]
    with pytest.raises(InvalidArgument, match="use recursive=true"):
        await pfs.grep("/memfs/g", "beta")
