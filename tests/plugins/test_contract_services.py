"""The built-in services run the shared FileSystem conformance suite (pfs.testing.contract) in
process: queuefs (memory and SQLite backends), streamfs and serverinfofs. Each joins the parts of
the contract it has; what it lacks (files read back, directories, rename, chmod) is checked to be
refused with nothing made or moved. Their /README is the file every one of them always serves."""

from __future__ import annotations

import pytest

from pfs.fs import validate_config
from pfs.plugins.queuefs import QueueFS
from pfs.plugins.serverinfofs import ServerInfoFS
from pfs.plugins.streamfs import StreamFS
from pfs.testing.contract import (
    ContractFixtures,
    DirectoryTests,
    ErrorTests,
    ReadOnlyTests,
    RenameTests,
)


async def started(fs):
    await fs.start()
    return fs


class ServiceFixtures(ContractFixtures):
    """A service's writes are not read back by ``read`` (messages, live streams, read-only)."""

    @pytest.fixture
    def writable(self) -> bool:
        return False

    @pytest.fixture
    def supports_rename(self) -> bool:
        return False

    @pytest.fixture
    def supports_chmod(self) -> bool:
        return False

    @pytest.fixture
    def sample(self, fs) -> tuple[str, bytes]:
        return "/README", fs.readme


class QueuefsFixtures(ServiceFixtures):
    """Queues are directories; any name is a queue (stat never fails, mkdir is idempotent)."""

    @pytest.fixture(params=["memory", "sqlite"])
    async def fs(self, request, tmp_path):
        config = {"backend": request.param}
        if request.param == "sqlite":
            config["db_path"] = str(tmp_path / "queue.db")
        fs = await started(QueueFS(validate_config("queuefs", QueueFS.config_schema, config)))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def names_always_exist(self) -> bool:
        return True


class StreamfsFixtures(ServiceFixtures):
    """Streams are followed with open_stream, never read back; no directories."""

    @pytest.fixture
    async def fs(self):
        fs = await started(StreamFS(validate_config("streamfs", StreamFS.config_schema, {})))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return False


class ServerinfofsFixtures(ServiceFixtures):
    """Read-only files about the server."""

    @pytest.fixture
    async def fs(self):
        config = validate_config("serverinfofs", ServerInfoFS.config_schema, {"version": "9.9"})
        fs = await started(ServerInfoFS(config))
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return False


class TestQueuefsReadOnly(ReadOnlyTests, QueuefsFixtures):
    pass


class TestQueuefsDirectories(DirectoryTests, QueuefsFixtures):
    pass


class TestQueuefsRename(RenameTests, QueuefsFixtures):
    pass


class TestQueuefsErrors(ErrorTests, QueuefsFixtures):
    pass


class TestStreamfsReadOnly(ReadOnlyTests, StreamfsFixtures):
    pass


class TestStreamfsDirectories(DirectoryTests, StreamfsFixtures):
    pass


class TestStreamfsRename(RenameTests, StreamfsFixtures):
    pass


class TestStreamfsErrors(ErrorTests, StreamfsFixtures):
    pass


class TestServerinfofsReadOnly(ReadOnlyTests, ServerinfofsFixtures):
    pass


class TestServerinfofsDirectories(DirectoryTests, ServerinfofsFixtures):
    pass


class TestServerinfofsRename(RenameTests, ServerinfofsFixtures):
    pass


class TestServerinfofsErrors(ErrorTests, ServerinfofsFixtures):
    pass


class TestServerinfofsVersion(ReadOnlyTests, ServerinfofsFixtures):
    """A live file besides the README: the configured version."""

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/version", b"9.9\n"
