"""pytest fixtures for test modules that need a pfs-server of their own."""

from __future__ import annotations

from typing import Any

import pytest

from pfs.testing.server import ServerProcess

#: A server with nothing but memfs at /memfs.
MEMFS_ONLY: dict[str, Any] = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}


def server_fixture(config: dict[str, Any], scope: str = "module") -> Any:
    """A fixture running one real server with ``config``; its name is the variable it is
    assigned to (``remote = server_fixture(MEMFS_ONLY)``)."""

    @pytest.fixture(scope=scope)
    def running_server():
        with ServerProcess(config) as proc:
            yield proc

    return running_server
