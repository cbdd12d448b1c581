"""sqlfs (SQLite), s3fs (moto_server) and proxyfs (a real remote server) run the shared
FileSystem conformance suite (pfs.testing.contract) in process."""

from __future__ import annotations

import uuid

import pytest

from pfs.fs import validate_config
from pfs.plugins.proxyfs import ProxyFS
from pfs.plugins.s3fs import S3FS
from pfs.plugins.sqlfs import SQLFS
from pfs.testing.contract import (
    ContractFixtures,
    DirectoryTests,
    ErrorTests,
    ReadWriteTests,
    RenameTests,
    StreamTests,
)
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.moto import MotoServer


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


remote = server_fixture(MEMFS_ONLY)


async def started(fs):
    await fs.start()
    return fs


class SqlfsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self, tmp_path):
        config = validate_config("sqlfs", SQLFS.config_schema, {"db_path": str(tmp_path / "c.db")})
        fs = await started(SQLFS(config))
        yield fs
        await fs.shutdown()


class S3fsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self, moto):
        bucket = f"c-{uuid.uuid4().hex[:12]}"
        moto.client().create_bucket(Bucket=bucket)
        fs = await started(
            S3FS(validate_config("s3fs", S3FS.config_schema, moto.mount_config(bucket)))
        )
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def supports_chmod(self) -> bool:
        return False  # S3 has no permission bits: chmod is accepted and ignored


class ProxyfsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self, remote):
        config = validate_config("proxyfs", ProxyFS.config_schema, {"base_url": remote.url})
        fs = await started(ProxyFS(config))
        directory = f"/memfs/c-{uuid.uuid4().hex[:8]}"
        await fs.mkdir(directory)
        fs.test_root = directory
        yield fs
        await fs.remove(directory, recursive=True)
        await fs.shutdown()

    @pytest.fixture
    def root(self, fs) -> str:
        return fs.test_root


class TestSqlfsReadWrite(ReadWriteTests, SqlfsFixtures):
    pass


class TestSqlfsDirectories(DirectoryTests, SqlfsFixtures):
    pass


class TestSqlfsRename(RenameTests, SqlfsFixtures):
    pass


class TestSqlfsStreams(StreamTests, SqlfsFixtures):
    pass


class TestSqlfsErrors(ErrorTests, SqlfsFixtures):
    pass


class TestS3fsReadWrite(ReadWriteTests, S3fsFixtures):
    pass


class TestS3fsDirectories(DirectoryTests, S3fsFixtures):
    pass


class TestS3fsRename(RenameTests, S3fsFixtures):
    pass


class TestS3fsStreams(StreamTests, S3fsFixtures):
    pass


class TestS3fsErrors(ErrorTests, S3fsFixtures):
    pass


class TestProxyfsReadWrite(ReadWriteTests, ProxyfsFixtures):
    pass


class TestProxyfsDirectories(DirectoryTests, ProxyfsFixtures):
    pass


class TestProxyfsRename(RenameTests, ProxyfsFixtures):
    pass


class TestProxyfsStreams(StreamTests, ProxyfsFixtures):
    pass


class TestProxyfsErrors(ErrorTests, ProxyfsFixtures):
    pass
