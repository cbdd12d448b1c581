from __future__ import annotations

import os

import httpx
import pytest

from pfs.testing.server import ServerProcess

BASE_CONFIG = {
    "plugins": {
        "serverinfofs": {"enabled": True, "path": "/serverinfofs"},
        "memfs": {"enabled": True, "path": "/memfs"},
        "kvfs": {"enabled": True, "path": "/kvfs"},
        "hellofs": {"enabled": True, "path": "/hellofs"},
    }
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """Tests never inherit PFS_* settings from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("PFS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session", autouse=True)
def engine_scratch_cleanup():
    """Redis keys and NATS streams under the scratch prefixes tests used are removed at the end."""
    yield
    from pfs.testing.engines import remove_issued

    remove_issued()


@pytest.fixture(scope="session")
def server():
    """One shared real server (Granian) with the base mounts."""
    with ServerProcess(BASE_CONFIG) as proc:
        yield proc


@pytest.fixture
def api(server):
    """An HTTP client for ``server``; a module that overrides ``server`` gets one for its own."""
    with httpx.Client(base_url=server.api, timeout=60) as client:
        yield client


@pytest.fixture
def start_server():
    """Factory for servers with their own config; all stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(config=None, **kwargs) -> ServerProcess:
        proc = ServerProcess(config, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()
