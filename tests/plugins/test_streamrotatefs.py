"""streamrotatefs over a real server: every written piece kept in rotating files under memfs, a
localfs directory and an s3fs bucket (moto_server), by size and by interval, while a reader
follows the stream; a mount made at run time by POST /mount; refused configs."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from pfs.fs import NotSupported, validate_config
from pfs.plugins.streamrotatefs import StreamRotateFS, file_name, threshold_text
from pfs.testing.contract import ContractFixtures, DirectoryTests, ErrorTests
from pfs.testing.moto import MotoServer
from pfs.testing.server import ServerProcess

WAIT = 30.0
BUCKET = "rotated"


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rotated")


@pytest.fixture(scope="module")
def server(local_dir, moto):
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(local_dir)}},
            "s3fs": {"enabled": True, "path": "/s3", "config": moto.mount_config(BUCKET)},
            "streamrotatefs": [
                {
                    "name": "by_size",
                    "enabled": True,
                    "path": "/rot",
                    "config": {
                        "output_path": "/memfs/rot",
                        "filename_pattern": "{channel}_{index}.dat",
                        "rotation_size": 1000,
                    },
                },
                {
                    "name": "by_time",
                    "enabled": True,
                    "path": "/rotlocal",
                    "config": {
                        "output_path": "/local/logs",
                        "filename_pattern": "{date}/{channel}-{index}.log",
                        "rotation_size": 0,
                        "rotation_interval": "300ms",
                    },
                },
                {
                    "name": "to_s3",
                    "enabled": True,
                    "path": "/rots3",
                    "config": {
                        "output_path": "/s3/streams",
                        "filename_pattern": "{channel}.{index}",
                        "rotation_size": "1KB",
                    },
                },
            ],
        }
    }
    with ServerProcess(config) as proc:
        yield proc


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Follower(threading.Thread):
    """Follows a stream with ``GET ?stream=true`` and keeps every byte it receives."""

    def __init__(self, server: ServerProcess, path: str) -> None:
        super().__init__(daemon=True)
        self.url, self.path = server.api + "/files", path
        self.data = bytearray()
        self.connected, self.ended = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, params={"path": self.path, "stream": "true"},
                              timeout=httpx.Timeout(WAIT, read=None)) as response:
                assert response.status_code == 200
                self.connected.set()
                for chunk in response.iter_raw():
                    self.data += chunk
        finally:
            self.connected.set()
            self.ended.set()

    def follow(self) -> Follower:
        self.start()
        assert self.connected.wait(WAIT)
        return self

    def finish(self) -> bytes:
        assert self.ended.wait(WAIT), "reader did not end"
        return bytes(self.data)


def put(api: httpx.Client, path: str, data: bytes) -> None:
    response = api.put("/files", params={"path": path}, content=data)
    assert response.status_code == 200, response.text
    assert response.json() == {"message": f"Written {len(data)} bytes to stream"}


def listing(api: httpx.Client, path: str) -> dict[str, int]:
    response = api.get("/directories", params={"path": path})
    assert response.status_code == 200, response.text
    return {e["name"]: e["size"] for e in response.json()["files"] if not e["isDir"]}


def content(api: httpx.Client, path: str) -> dict[str, str]:
    response = api.get("/stat", params={"path": path})
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["Type"] == "rotate-stream"
    return response.json()["meta"]["Content"]


def read(api: httpx.Client, path: str) -> bytes:
    response = api.get("/files", params={"path": path})
    assert response.status_code == 200, response.text
    return response.content


def test_size_rotation_into_memfs_while_a_reader_follows(server, api):
    pieces = [bytes([65 + i]) * 400 for i in range(5)]
    reader = Follower(server, "/rot/cam").follow()
    for piece in pieces:
        put(api, "/rot/cam", piece)
    reader_wants = b"".join(pieces)
    wait_until(lambda: len(reader.data) >= len(reader_wants), "the reader")
    # 400+400 fit 1000 bytes, a third piece would not: files of 800, 800 and 400 bytes.
    files = listing(api, "/memfs/rot")
    assert files == {"cam_000000.dat": 800, "cam_000001.dat": 800, "cam_000002.dat": 400}
    kept = b"".join(read(api, f"/memfs/rot/{name}") for name in sorted(files))
    assert kept == reader_wants
    meta = content(api, "/rot/cam")
    assert meta["total_written"] == str(len(reader_wants))
    assert (meta["rotation_file_idx"], meta["current_file_size"]) == ("3", "400")
    assert meta["current_file"] == "/memfs/rot/cam_000002.dat"
    assert meta["rotation_threshold"] == "1000B"
    api.delete("/files", params={"path": "/rot/cam"})
    assert reader.finish() == reader_wants


def test_one_piece_larger_than_the_limit_gets_a_file_of_its_own(server, api):
    put(api, "/rot/big", b"a" * 100)
    put(api, "/rot/big", b"b" * 3000)
    put(api, "/rot/big", b"c" * 100)
    files = {k: v for k, v in listing(api, "/memfs/rot").items() if k.startswith("big_")}
    assert files == {"big_000000.dat": 100, "big_000001.dat": 3000, "big_000002.dat": 100}


def test_interval_rotation_into_a_localfs_directory(server, api, local_dir):
    put(api, "/rotlocal/app", b"first\n")
    # The sweep closes the file once it is 300 ms old; the next write opens a new one.
    wait_until(lambda: content(api, "/rotlocal/app")["current_file"] == "", "the sweep")
    put(api, "/rotlocal/app", b"second\n")
    day = file_name("{date}", "", 0, time.time())
    on_disk = sorted(p.name for p in (local_dir / "logs" / day).iterdir())
    assert on_disk == ["app-000000.log", "app-000001.log"]
    assert (local_dir / "logs" / day / "app-000000.log").read_bytes() == b"first\n"
    # localfs takes appends: the bytes are in the file while it is still being written.
    assert (local_dir / "logs" / day / "app-000001.log").read_bytes() == b"second\n"
    assert read(api, f"/local/logs/{day}/app-000001.log") == b"second\n"
    assert content(api, "/rotlocal/app")["rotation_threshold"] == "0B"


def test_whole_file_target_s3_gets_each_file_when_it_rotates(server, api, moto):
    put(api, "/rots3/feed", b"x" * 600)
    put(api, "/rots3/feed", b"y" * 600)  # 1200 > 1KB: feed.000000 is complete and uploaded
    s3 = moto.client()
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys["streams/feed.000000"] == 600
    assert read(api, "/s3/streams/feed.000000") == b"x" * 600
    # The current file reaches S3 when its stream is removed.
    api.delete("/files", params={"path": "/rots3/feed"})
    assert read(api, "/s3/streams/feed.000001") == b"y" * 600



def test_unmount_hands_the_current_file_to_s3(server, api, moto):
    name = f"/rt{uuid.uuid4().hex[:6]}"
    response = api.post("/mount", json={
        "fstype": "streamrotatefs", "path": name,
        "config": {"output_path": "/s3/unmounted", "filename_pattern": "{channel}.log"},
    })
    assert response.status_code == 200, response.text
    put(api, f"{name}/tail", b"kept at unmount")
    assert api.post("/unmount", json={"path": name}).status_code == 200
    assert read(api, "/s3/unmounted/tail.log") == b"kept at unmount"


def test_a_chunked_put_keeps_every_piece(server, api):
    pieces = [bytes([97 + i]) * 600 for i in range(4)]
    response = api.put("/files", params={"path": "/rot/chunky"}, content=iter(pieces))
    assert response.status_code == 200, response.text
    files = {k: v for k, v in listing(api, "/memfs/rot").items() if k.startswith("chunky_")}
    assert len(files) >= 2  # 2400 bytes never fit one 1000-byte file
    kept = b"".join(read(api, f"/memfs/rot/{name}") for name in sorted(files))
    assert kept == b"".join(pieces)


def test_runtime_mount_writes_rotation_files(server, api):
    name = f"/rt{uuid.uuid4().hex[:6]}"
    response = api.post("/mount", json={
        "fstype": "streamrotatefs", "path": name,
        "config": {"output_path": "/memfs/runtime", "rotation_size": "10MB"},
    })
    assert response.status_code == 200, response.text
    put(api, f"{name}/events", b"hello rotation")
    (file,) = listing(api, "/memfs/runtime")
    assert file.startswith("events_") and file.endswith(".dat")
    assert read(api, f"/memfs/runtime/{file}") == b"hello rotation"
    assert api.post("/unmount", json={"path": name}).status_code == 200


def test_a_write_that_cannot_be_kept_fails_and_publishes_nothing(server, api):
    name = f"/rt{uuid.uuid4().hex[:6]}"
    response = api.post("/mount", json={
        "fstype": "streamrotatefs", "path": name, "config": {"output_path": "/nowhere/x"},
    })
    assert response.status_code == 200, response.text
    response = api.put("/files", params={"path": f"{name}/s"}, content=b"lost")
    assert response.status_code == 503, response.text
    assert "failed to create rotation file /nowhere/x/s_" in response.json()["error"]
    assert content(api, f"{name}/s")["total_written"] == "0"
    api.post("/unmount", json={"path": name})


def test_streams_read_and_refuse_like_streamfs(server, api):
    put(api, "/rot/plain", b"data")
    response = api.get("/files", params={"path": "/rot/plain"})
    assert response.status_code == 400
    assert "use stream mode for reading stream files" in response.json()["error"]
    assert b"streamrotatefs" in read(api, "/rot/README")
    names = {e["name"] for e in api.get("/directories", params={"path": "/rot"}).json()["files"]}
    assert {"README", ".close", "plain"} <= names
    assert api.post("/directories", params={"path": "/rot/d"}).status_code == 501
    response = api.put("/files", params={"path": "/rot/README"}, content=b"x")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "output_path is required"),
        ({"output_path": "logs"}, "output_path must be a PFS path (must start with /)"),
        ({"output_path": "/memfs/x", "filename_pattern": "{chan}.log"}, "unknown variable {chan}"),
        ({"output_path": "/memfs/x", "filename_pattern": "../{channel}"}, "below output_path"),
        ({"output_path": "/memfs/x", "rotation_size": -1}, "rotation_size"),
        ({"output_path": "/memfs/x", "rotation_interval": "soon"}, "rotation_interval"),
        ({"output_path": "/self/out"}, "is inside this mount"),
    ],
)
def test_bad_configs_are_refused(server, api, config, message):
    response = api.post("/mount", json={"fstype": "streamrotatefs", "path": "/self",
                                        "config": config})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert "/self" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


def test_file_name_variables():
    now = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1))
    name = file_name("{channel}|{timestamp}|{date}|{time}|{datetime}|{index}", "cam", 7, now)
    assert name == f"cam|{int(now)}|20260304|050607|20260304_050607|000007"
    assert [threshold_text(n) for n in (0, 512, 1536, 100 << 20, 3 << 30)] == [
        "0B", "512B", "1.5KB", "100.0MB", "3.0GB"]


class StreamrotatefsFixtures(ContractFixtures):
    """The conformance suite's parts that apply to streams: no directories, missing streams
    are NotFound, chmod refused (streams are not read or rewritten as files)."""

    @pytest.fixture
    async def fs(self):
        config = validate_config("streamrotatefs", StreamRotateFS.config_schema,
                                 {"output_path": "/elsewhere"})
        fs = StreamRotateFS(config)
        await fs.start()
        yield fs
        await fs.shutdown()

    @pytest.fixture
    def supports_dirs(self) -> bool:
        return False


class TestStreamrotatefsDirectories(DirectoryTests, StreamrotatefsFixtures):
    pass


class TestStreamrotatefsErrors(ErrorTests, StreamrotatefsFixtures):
    async def test_chmod(self, fs, root, supports_chmod, writable):
        await fs.create("/mode")
        with pytest.raises(NotSupported):
            await fs.chmod("/mode", 0o600)
        assert (await fs.stat("/mode")).mode == 0o644
