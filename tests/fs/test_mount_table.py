"""The mount table in process over a real memfs: every plugin call counts as in flight while it
runs and its errors name the full path the client sent."""

from __future__ import annotations

import pytest

from pfs.fs import AlreadyExists, Buffered, FSError, NotFound, validate_config
from pfs.fs.mounts import MountTable
from pfs.plugins.memfs import SMALL_READ, MemFS


@pytest.fixture
async def table():
    table = MountTable()
    await table.mount(
        "/m", "memfs", lambda c: MemFS(validate_config("memfs", MemFS.config_schema, c)), {}
    )
    yield table
    await table.shutdown()


def _active(table: MountTable) -> int:
    return table.list()[0].active


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.read("/m/missing"),
        lambda t: t.read_stream("/m/missing"),
        lambda t: t.open_stream("/m/missing"),
        lambda t: t.stat("/m/missing"),
        lambda t: t.readdir("/m/missing"),
        lambda t: t.create("/m/no/such"),
        lambda t: t.mkdir("/m/no/such"),
        lambda t: t.remove("/m/missing"),
        lambda t: t.chmod("/m/missing", 0o600),
        lambda t: t.set_mtime("/m/missing", 0),
        lambda t: t.rename("/m/missing", "/m/other"),
    ],
)
async def test_plugin_errors_name_the_full_path_and_leave_the_mount(table, call):
    with pytest.raises(NotFound) as caught:
        await call(table)
    assert str(caught.value) in (
        "no such file or directory: /m/missing",
        "no such file or directory: /m/no/such",  # create, mkdir: a missing parent
    )
    assert isinstance(caught.value.__cause__, FSError)  # the plugin's own error, kept
    assert _active(table) == 0


async def test_rename_onto_an_existing_name_names_the_target(table):
    await table.write("/m/a", b"a")
    await table.mkdir("/m/d")
    with pytest.raises(AlreadyExists) as caught:
        await table.rename("/m/a", "/m/d")
    assert str(caught.value) == "file already exists: /m/d"
    assert _active(table) == 0


async def test_a_stream_is_in_flight_until_closed(table):
    await table.write("/m/big", b"x" * (SMALL_READ + 1))
    chunks = await table.read_stream("/m/big")
    assert _active(table) == 1
    await anext(chunks)
    await chunks.aclose()  # type: ignore[attr-defined]
    assert _active(table) == 0


async def test_bytes_in_hand_are_not_tracked(table):
    await table.write("/m/small", b"small")
    chunks = await table.read_stream("/m/small")
    assert isinstance(chunks, Buffered) and chunks.data == b"small"
    assert _active(table) == 0
