"""The FUSE layer's parts without a kernel mount: caches, the inode table, handle buffers."""

from __future__ import annotations

import os
import random

import pytest

from pfs.client import AsyncClient
from pfs.fuse import cache as cache_module
from pfs.fuse.cache import TTLCache
from pfs.fuse.handles import READ_AHEAD_MAX, WRITE_BUFFER, OpenFile
from pfs.fuse.inodes import ROOT, InodeTable


def test_ttl_cache_expires_and_caps(monkeypatch):
    """Entries vanish after ttl seconds; beyond cap the least recently used goes first."""
    now = [100.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    cache: TTLCache[int] = TTLCache(ttl=1.0, cap=3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert cache.get("a") == 0  # a is now the most recently used
    cache.put("d", 3)
    assert cache.get("b") is None and len(cache) == 3
    now[0] += 1.5
    assert cache.get("a") is None and cache.get("d") is None


def test_ttl_cache_drop_tree_and_zero_ttl():
    cache: TTLCache[int] = TTLCache(ttl=10, cap=10)
    for key in ("/a", "/a/b", "/a/b/c", "/ab"):
        cache.put(key, 1)
    cache.drop_tree("/a")
    assert [cache.get(k) for k in ("/a", "/a/b", "/a/b/c", "/ab")] == [None, None, None, 1]
    off: TTLCache[int] = TTLCache(ttl=0, cap=10)
    off.put("/x", 1)
    assert off.get("/x") is None


def test_inode_table_rename_moves_the_subtree_and_forget_frees():
    table = InodeTable()
    d = table.remember("/m/d")
    f = table.remember("/m/d/f")
    other = table.remember("/m/dx")
    table.rename("/m/d", "/m/e")
    assert table.path(d) == "/m/e" and table.path(f) == "/m/e/f"
    assert table.path(other) == "/m/dx"  # a sibling sharing the prefix stays
    assert table.peek("/m/d/f") is None and table.peek("/m/e/f") == f
    table.forget(f, 1)
    with pytest.raises(KeyError):
        table.path(f)
    table.forget(ROOT, 100)
    assert table.path(ROOT) == "/"


def test_inode_table_rename_over_an_existing_name():
    table = InodeTable()
    src = table.remember("/m/new")
    old = table.remember("/m/old")
    table.rename("/m/new", "/m/old")
    assert table.peek("/m/old") == src and table.path(src) == "/m/old"
    with pytest.raises(KeyError):  # the replaced file has no name: its handles fail
        table.path(old)
    table.forget(old, 1)
    table.unlink("/m/old")
    assert table.peek("/m/old") is None


async def test_read_ahead_window_grows_on_sequential_reads_and_stays_bounded(server):
    """Sequential 128 KiB kernel reads of 20 MiB: few requests, window never over the cap."""
    data = os.urandom(20 << 20)
    async with AsyncClient(server.url) as client:
        await client.write("/memfs/ra.bin", data)
        handle = OpenFile(client, 2, lambda _: "/memfs/ra.bin", os.O_RDONLY,
                          live=False, whole_writes=False, size=len(data))  # fmt: skip
        got = bytearray()
        largest = 0
        while chunk := await handle.read(len(got), 128 * 1024):
            got += chunk
            largest = max(largest, len(handle._window))
        assert bytes(got) == data
        assert largest == READ_AHEAD_MAX
        await client.rm("/memfs/ra.bin")


async def test_write_behind_buffer_is_bounded_and_sends_offsets(server):
    """10 MiB of 64 KiB writes after O_TRUNC: buffer never over its cap, file arrives whole."""
    data = os.urandom(10 << 20)
    async with AsyncClient(server.url) as client:
        await client.write("/memfs/wb.bin", b"old content that must go")
        handle = OpenFile(client, 2, lambda _: "/memfs/wb.bin", os.O_WRONLY | os.O_TRUNC,
                          live=False, whole_writes=False, size=24)  # fmt: skip
        largest = 0
        for start in range(0, len(data), 65536):
            await handle.write(start, data[start : start + 65536])
            largest = max(largest, len(handle._pending))
        assert largest <= WRITE_BUFFER and handle.known_size == len(data)
        await handle.flush()
        assert not handle.dirty
        assert await client.cat("/memfs/wb.bin") == data
        await client.rm("/memfs/wb.bin")


async def test_random_and_sequential_reads_mixed_return_the_right_bytes(server):
    """Seeks in the middle of read-ahead and prefetch never serve bytes from the wrong place."""
    data = os.urandom(9 << 20)
    rng = random.Random(8)
    async with AsyncClient(server.url) as client:
        await client.write("/memfs/mixed.bin", data)
        handle = OpenFile(client, 2, lambda _: "/memfs/mixed.bin", os.O_RDONLY,
                          live=False, whole_writes=False, size=len(data))  # fmt: skip
        offset = 0
        for _ in range(200):
            if rng.random() < 0.2:
                offset = rng.randrange(len(data) + 10)
            size = rng.choice([4096, 131072, 1 << 20])
            assert await handle.read(offset, size) == data[offset : offset + size]
            offset += size
        handle.drop_buffers()
        await client.rm("/memfs/mixed.bin")
