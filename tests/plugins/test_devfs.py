"""devfs at /dev through the real server, and the conformance suite in process."""

from __future__ import annotations

import pytest

from pfs.fs import ReadOnly, validate_config
from pfs.plugins.devfs import READ_LIMIT, DevFS
from pfs.testing.contract import ContractFixtures, ErrorTests, ReadOnlyTests
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture

server = server_fixture(MEMFS_ONLY)


def test_every_server_has_dev_null(api):
    files = api.get("/directories", params={"path": "/dev"}).json()["files"]
    listed = {f["name"]: f for f in files}
    assert list(listed) == ["README", "null", "zero", "urandom"]
    assert listed["null"]["mode"] == 0o666 and listed["null"]["meta"]["Type"] == "device"
    assert api.get("/files", params={"path": "/dev/null"}).content == b""
    r = api.put("/files", params={"path": "/dev/null"}, content=b"thrown away")
    assert (r.status_code, r.json()) == (200, {"message": "Written 11 bytes"})
    assert api.get("/stat", params={"path": "/dev/null"}).json()["size"] == 0
    assert b"devfs" in api.get("/files", params={"path": "/dev/README"}).content
    assert api.post("/touch", params={"path": "/dev/null"}).status_code == 200  # as touch(1)
    assert api.post("/touch", params={"path": "/dev/tty"}).status_code == 403  # no new files


def test_big_streamed_write_to_null_is_counted_not_kept(api):
    body = (b"x" * (1 << 20) for _ in range(80))  # 80 MiB chunked: more than any buffer limit
    r = api.put("/files", params={"path": "/dev/null"}, content=body)
    assert (r.status_code, r.json()) == (200, {"message": f"Written {80 << 20} bytes"})


def test_zero_and_urandom_are_bounded(api):
    assert api.get("/files", params={"path": "/dev/zero", "size": 5}).content == bytes(5)
    assert api.get("/files", params={"path": "/dev/zero"}).content == b""  # size 0: no end
    assert len(api.get("/files", params={"path": "/dev/urandom", "size": 33}).content) == 33
    r = api.get("/files", params={"path": "/dev/zero", "size": READ_LIMIT + 1})
    assert r.status_code == 400 and str(READ_LIMIT) in r.json()["error"]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("PUT", "/dev/zero", 403),
    ("PUT", "/dev/new", 404),
    ("POST", "/dev/new", 403),
    ("DELETE", "/dev/null", 403),
    ("GET", "/dev/nothing", 404),
    ("GET", "/dev", 400),
])
def test_refusals(api, method, path, status):
    body = b"x" if method == "PUT" else None
    r = api.request(method, "/files", params={"path": path}, content=body)
    assert r.status_code == status, r.text
    assert api.get("/directories", params={"path": "/dev"}).json()["files"][1]["name"] == "null"


def test_mkdir_and_rename_refused(api):
    assert api.post("/directories", params={"path": "/dev/sub"}).status_code == 403
    r = api.post("/rename", params={"path": "/dev/null"}, json={"newPath": "/dev/void"})
    assert r.status_code == 403
    assert api.get("/stat", params={"path": "/dev/void"}).status_code == 404


async def test_truncate_of_null_is_accepted():
    fs = DevFS(validate_config("devfs", DevFS.config_schema, {}))
    await fs.truncate("/null", 0)
    with pytest.raises(ReadOnly):
        await fs.truncate("/zero", 0)


class DevfsFixtures(ContractFixtures):
    @pytest.fixture
    async def fs(self):
        fs = DevFS(validate_config("devfs", DevFS.config_schema, {}))
        await fs.start()
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def writable(self) -> bool:
        return False

    @pytest.fixture
    def sample(self) -> tuple[str, bytes]:
        return "/null", b""


class TestDevfsReadOnly(ReadOnlyTests, DevfsFixtures):
    pass


class TestDevfsErrors(ErrorTests, DevfsFixtures):
    pass
