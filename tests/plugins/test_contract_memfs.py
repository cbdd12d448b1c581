"""memfs runs the shared FileSystem conformance suite (pfs.testing.contract)."""

from __future__ import annotations

import pytest

from pfs.fs import validate_config
from pfs.plugins.memfs import MemFS
from pfs.testing.contract import (
    ContractFixtures,
    DirectoryTests,
    ErrorTests,
    ReadWriteTests,
    RenameTests,
    StreamTests,
)


class MemfsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self):
        fs = MemFS(validate_config("memfs", MemFS.config_schema, {}))
        await fs.start()
        yield fs
        await fs.shutdown()


class TestMemfsReadWrite(ReadWriteTests, MemfsFixtures):
    pass


class TestMemfsDirectories(DirectoryTests, MemfsFixtures):
    pass


class TestMemfsRename(RenameTests, MemfsFixtures):
    pass


class TestMemfsStreams(StreamTests, MemfsFixtures):
    pass


class TestMemfsErrors(ErrorTests, MemfsFixtures):
    pass
