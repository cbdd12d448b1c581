"""The ``pfs://`` fsspec file system: fsspec's own abstract suites, pandas, and PFS specifics."""

from __future__ import annotations

import errno
import uuid

import fsspec
import fsspec.tests.abstract as abstract
import pandas as pd
import pytest

from pfs.fsspec import PFSFileSystem
from pfs.testing.fixtures import server_fixture

CONFIG = {
    "plugins": {
        "memfs": [
            {"name": "one", "enabled": True, "path": "/memfs"},
            {"name": "two", "enabled": True, "path": "/other"},
        ],
        "hellofs": {"enabled": True, "path": "/hellofs"},
    }
}


pfs_server = server_fixture(CONFIG)


@pytest.fixture
def pfs(pfs_server):
    PFSFileSystem.clear_instance_cache()
    return fsspec.filesystem("pfs", host=f"127.0.0.1:{pfs_server.port}")


@pytest.fixture
def url(pfs_server):
    return f"pfs://127.0.0.1:{pfs_server.port}"


class PFSFixtures(abstract.AbstractFixtures):
    """fsspec's abstract tests run against a fresh memfs directory per test."""

    @pytest.fixture
    def fs(self, pfs):
        return pfs

    @pytest.fixture
    def fs_path(self, pfs):
        path = f"/memfs/abstract-{uuid.uuid4().hex[:8]}"
        pfs.mkdir(path)
        yield path
        pfs.rm(path, recursive=True)

    @pytest.fixture
    def supports_empty_directories(self):
        return True


class TestPFSCopy(abstract.AbstractCopyTests, PFSFixtures):
    pass


class TestPFSGet(abstract.AbstractGetTests, PFSFixtures):
    pass


class TestPFSPut(abstract.AbstractPutTests, PFSFixtures):
    pass


class TestPFSOpen(abstract.AbstractOpenTests, PFSFixtures):
    pass


class TestPFSPipe(abstract.AbstractPipeTests, PFSFixtures):
    pass


def test_protocol_is_registered_through_the_entry_point(url):
    """fsspec finds ``pfs`` without an import of pfs.fsspec, and the URL names the server."""
    fs, path = fsspec.core.url_to_fs(f"{url}/memfs/x.csv")
    assert isinstance(fs, PFSFileSystem)
    assert path == "/memfs/x.csv"
    assert fs.unstrip_protocol(path) == f"{url}/memfs/x.csv"


def test_pandas_round_trip(url, pfs):
    df = pd.DataFrame({"id": range(1000), "name": [f"row{i}" for i in range(1000)]})
    df.to_csv(f"{url}/memfs/pandas/data.csv", index=False)
    back = pd.read_csv(f"{url}/memfs/pandas/data.csv")
    pd.testing.assert_frame_equal(back, df)
    assert pfs.info("/memfs/pandas/data.csv")["size"] == len(df.to_csv(index=False))


def test_range_reads_and_seek(pfs):
    pfs.pipe("/memfs/range.bin", bytes(range(256)) * 4)
    assert pfs.cat_file("/memfs/range.bin", start=10, end=14) == bytes([10, 11, 12, 13])
    assert pfs.cat_file("/memfs/range.bin", start=-3) == bytes([253, 254, 255])
    with pfs.open("/memfs/range.bin", "rb", block_size=64) as f:
        f.seek(300)
        assert f.read(4) == bytes([44, 45, 46, 47])
        assert f.tell() == 304


def test_large_write_goes_in_blocks(pfs):
    """A write bigger than block_size is sent in pieces (offset PUTs) and arrives whole."""
    data = bytes(range(256)) * 40_000  # ~10 MiB
    with pfs.open("/memfs/blocks.bin", "wb", block_size=1 << 20) as f:
        for start in range(0, len(data), 300_000):
            f.write(data[start : start + 300_000])
    assert pfs.cat_file("/memfs/blocks.bin") == data


def test_ls_detail_info_and_append(pfs):
    pfs.mkdir("/memfs/lsd/sub")
    pfs.pipe("/memfs/lsd/f.txt", b"abc")
    with pfs.open("/memfs/lsd/f.txt", "ab") as f:
        f.write(b"def")
    entries = pfs.ls("/memfs/lsd", detail=True)
    assert [(e["name"], e["type"], e["size"]) for e in entries] == [
        ("/memfs/lsd/f.txt", "file", 6),
        ("/memfs/lsd/sub", "directory", 0),
    ]
    assert pfs.ls("/memfs/lsd", detail=False) == ["/memfs/lsd/f.txt", "/memfs/lsd/sub"]
    assert pfs.info("/memfs/lsd/f.txt")["mode"] == 0o644
    assert pfs.ls("/memfs/lsd/f.txt") == [pfs.info("/memfs/lsd/f.txt")]


def test_mv_within_a_mount_renames_and_across_mounts_copies(pfs):
    pfs.pipe("/memfs/mv/a.txt", b"A")
    pfs.mv("/memfs/mv/a.txt", "/memfs/mv/b.txt")
    assert not pfs.exists("/memfs/mv/a.txt")
    assert pfs.cat("/memfs/mv/b.txt") == b"A"
    pfs.mv("/memfs/mv/b.txt", "/other/b.txt")
    assert not pfs.exists("/memfs/mv/b.txt")
    assert pfs.cat("/other/b.txt") == b"A"
    pfs.pipe("/memfs/mv/c.txt", b"C")
    pfs.mv("/memfs/mv/c.txt", "/other/b.txt")  # replaces like a POSIX mv
    assert pfs.cat("/other/b.txt") == b"C"


def test_errors_are_builtin_exceptions(pfs):
    """Each PFS error arrives as the builtin fsspec users catch; nothing is changed."""
    with pytest.raises(FileNotFoundError):
        pfs.cat("/memfs/missing.txt")
    with pytest.raises(FileNotFoundError):
        pfs.ls("/memfs/missing-dir")
    pfs.mkdir("/memfs/exists")
    with pytest.raises(FileExistsError):
        pfs.mkdir("/memfs/exists")
    with pytest.raises(FileExistsError):
        pfs.makedirs("/memfs/exists")
    pfs.makedirs("/memfs/exists", exist_ok=True)
    with pytest.raises(OSError) as refused:
        pfs.pipe("/hellofs/hello", b"x")
    assert refused.value.errno == errno.EROFS
    assert pfs.cat("/hellofs/hello") == b"Hello, World!\n"
    pfs.pipe("/memfs/once.txt", b"1")
    with pytest.raises(FileExistsError):
        with pfs.open("/memfs/once.txt", "xb") as f:
            f.write(b"2")
    assert pfs.cat("/memfs/once.txt") == b"1"


def test_a_server_that_is_not_running_is_a_connection_error():
    """Not BlockingIOError (the EAGAIN of 'unavailable'): callers catch ConnectionError."""
    from pfs.testing.server import free_port

    fs = fsspec.filesystem("pfs", base_url=f"http://127.0.0.1:{free_port()}",
                           skip_instance_cache=True)
    with pytest.raises(ConnectionRefusedError) as refused:
        fs.ls("/")
    assert isinstance(refused.value, ConnectionError)
    assert refused.value.errno == errno.ECONNREFUSED
    assert "server not running" in str(refused.value)
