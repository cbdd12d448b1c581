"""Handles in process: the mount table's open_handle over real plugins (memfs, queuefs, streamfs),
its handle table (ids, limit, closing with the mount) and the generic FileAdapter."""

from __future__ import annotations

import asyncio

import pytest

from pfs.fs import (
    FileSystem,
    NotFound,
    NotSupported,
    OpenFlag,
    PermissionDenied,
    Unavailable,
    validate_config,
)
from pfs.fs.mounts import MountTable
from pfs.plugins.hellofs import HelloFS
from pfs.plugins.memfs import MemFS
from pfs.plugins.queuefs import QueueFS
from pfs.plugins.streamfs import StreamFS


def factory(cls: type[FileSystem], config: dict | None = None):
    return lambda extra: cls(validate_config(cls.fstype, cls.config_schema, {**(config or {}),
                                                                             **extra}))


@pytest.fixture
async def table():
    table = MountTable(max_handles=3)
    await table.mount("/m", "memfs", factory(MemFS), {})
    await table.mount("/q", "queuefs", factory(QueueFS, {"backend": "memory"}), {})
    await table.mount("/s", "streamfs", factory(StreamFS), {})
    await table.mount("/h", "hellofs", factory(HelloFS), {})
    yield table
    await table.shutdown()


async def chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_reads_and_writes_at_a_position(table):
    await table.write("/m/f", b"0123456789")
    handle = await table.open_handle("/m/f", OpenFlag.RDWR)
    assert await handle.read(3) == b"012"
    assert await handle.write(chunks(b"a", b"b")) == 2
    assert handle.position == 5
    assert await handle.read(2, offset=0) == b"01" and handle.position == 5
    assert await handle.seek(-1, 2) == 9
    assert await handle.read(10) == b"9"
    assert await table.read("/m/f") == b"012ab56789"
    assert (await handle.stat()).size == 10


async def test_append_handles_write_at_the_end(table):
    await table.write("/m/log", b"one\n")
    handle = await table.open_handle("/m/log", OpenFlag.WRONLY | OpenFlag.APPEND)
    await handle.write(chunks(b"two\n"), offset=0)
    assert await table.read("/m/log") == b"one\ntwo\n"
    assert handle.position == 0  # an explicit offset leaves the position alone


async def test_the_limit_is_checked_before_the_plugin_opens_anything(table):
    for name in ("a", "b", "c"):
        await table.open_handle(f"/m/{name}", OpenFlag.WRONLY | OpenFlag.CREATE)
    with pytest.raises(Unavailable, match="too many open handles: 3 of at most 3"):
        await table.open_handle("/m/d", OpenFlag.WRONLY | OpenFlag.CREATE)
    with pytest.raises(NotFound):
        await table.stat("/m/d")  # refused: nothing created


async def test_unmount_closes_only_that_mounts_handles_and_ids_keep_growing(table):
    await table.write("/m/f", b"x")
    kept = await table.open_handle("/m/f")
    await table.create("/s/live")
    dropped = await table.open_handle("/s/live")
    await table.unmount("/s")
    assert [h.id for h in table.handles.list()] == [kept.id]
    with pytest.raises(NotFound, match=f"handle not found: {dropped.id}"):
        table.handles.get(dropped.id)
    await table.handles.close(kept.id)
    again = await table.open_handle("/m/f")
    assert again.id > dropped.id > kept.id


async def test_a_consuming_file_is_read_once_per_handle(table):
    await table.mkdir("/q/jobs")
    await table.write("/q/jobs/enqueue", b"a")
    await table.write("/q/jobs/enqueue", b"b")
    handle = await table.open_handle("/q/jobs/dequeue")
    first = b""
    while piece := await handle.read(4):
        first += piece
    assert b'"data":"a"' in first
    assert await handle.read(100, offset=0) == first
    assert await table.read("/q/jobs/size") == b"1"


async def test_an_endless_file_gets_a_reader_of_its_own(table):
    await table.create("/s/live")
    handle = await table.open_handle("/s/live")
    await table.write("/s/live", b"hello")
    assert await handle.read(3) == b"hel"
    assert await handle.read(3) == b"lo"
    info = await table.stat("/s/live")
    assert info.meta.content is not None and info.meta.content["active_readers"] == "1"
    await table.handles.close(handle.id)
    info = await table.stat("/s/live")
    assert info.meta.content is not None and info.meta.content["active_readers"] == "0"


async def test_writing_opens_need_random_writes(table):
    with pytest.raises(NotSupported, match="/h/hello"):
        await table.open_handle("/h/hello", OpenFlag.RDWR)
    handle = await table.open_handle("/h/hello")
    assert await handle.read(100) == await table.read("/h/hello")
    with pytest.raises(PermissionDenied, match="not opened for writing"):
        await handle.write(chunks(b"x"))


async def test_an_operation_waiting_behind_a_live_read_sees_the_close(table):
    await table.create("/s/wait")
    handle = await table.open_handle("/s/wait")
    waiting_read = asyncio.ensure_future(handle.read(10))  # waits for data, holding the handle
    queued_stat = asyncio.ensure_future(handle.stat())  # queued behind it
    for _ in range(3):  # let both start: the read waits for data, the stat for the read
        await asyncio.sleep(0)
    await table.handles.close(handle.id)
    assert await waiting_read == b""  # the close ends the wait: no data
    with pytest.raises(NotFound, match=f"handle not found: {handle.id} \\(closed\\)"):
        await queued_stat
