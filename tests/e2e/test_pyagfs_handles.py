"""AGFS's own Python SDK (pyagfs) driving our handle API: every handle call it makes works.

pyagfs sends the server's flag encoding, ``mode`` as the decimal text of the int (read as octal
by the server, as AGFS does), follows ``GET /handles`` → 301 to the list, and uses the ``renew``
route AGFS itself lacks.
"""

from __future__ import annotations

import pytest
from pyagfs import AGFSClient
from pyagfs.exceptions import AGFSClientError

from pfs.testing.server import ServerProcess

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queue", "config": {"backend": "memory"}},
        "hellofs": {"enabled": True, "path": "/hello"},
    }
}
RDWR, CREATE = 2, 16


@pytest.fixture(scope="module")
def agfs():
    with ServerProcess(CONFIG) as srv:
        client = AGFSClient(srv.url)
        yield client
        client.session.close()


def test_pyagfs_file_handle_round_trip(agfs):
    agfs.write("/memfs/py.txt", b"0123456789")
    with agfs.open_handle("/memfs/py.txt", flags=RDWR) as handle:
        assert handle.read(4) == b"0123"
        assert handle.write(b"ab") == 2
        assert handle.tell() == 6
        assert handle.read_at(2, 0) == b"01"
        assert handle.write_at(b"Z", 9) == 1
        assert handle.seek(-3, 2) == 7
        assert handle.read() == b"78Z"
        handle.sync()
        assert handle.stat()["size"] == 10
        assert handle.info()["handle_id"] == handle.handle_id
        assert handle.renew(120)["lease"] == 120
        assert [h["handle_id"] for h in agfs.list_handles()] == [handle.handle_id]
    assert agfs.cat("/memfs/py.txt") == b"0123ab678Z"
    assert agfs.list_handles() == []
    with pytest.raises(AGFSClientError, match="handle not found"):
        agfs.handle_read(handle.handle_id)


def test_pyagfs_create_mode_and_errors(agfs):
    # pyagfs sends mode 0o644 as "420", read as octal (0o420) as AGFS reads it.
    agfs.open_handle("/memfs/made.txt", flags=RDWR | CREATE).close()
    assert agfs.stat("/memfs/made.txt")["mode"] == 0o420
    # 0o600 goes out as "384", which is not octal: refused, nothing made.
    with pytest.raises(AGFSClientError, match="invalid mode parameter"):
        agfs.open_handle("/memfs/other.txt", flags=RDWR | CREATE, mode=0o600)
    with pytest.raises(AGFSClientError, match="operation not supported"):
        agfs.open_handle("/hello/hello", flags=RDWR)
    with pytest.raises(AGFSClientError, match="no such file or directory"):
        agfs.open_handle("/memfs/missing.txt")
    assert agfs.list_handles() == []


def test_pyagfs_queue_handle_dequeues_once(agfs):
    agfs.mkdir("/queue/q")
    agfs.write("/queue/q/enqueue", b"only")
    with agfs.open_handle("/queue/q/dequeue") as handle:
        first = handle.read(5)
        rest = handle.read()
    assert b'"data":"only"' in first + rest
    assert agfs.cat("/queue/q/size") == b"0"
