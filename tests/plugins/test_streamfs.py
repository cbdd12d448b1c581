"""streamfs over a real server: fan-out, history, both writer styles, slow readers, ending."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from pfs.testing.fixtures import server_fixture
from pfs.testing.server import ServerProcess

RING = 256 << 10
CHANNEL = 512 << 10
CONFIG = {
    "plugins": {
        "streamfs": {
            "enabled": True,
            "path": "/streamfs",
            "config": {"channel_buffer_size": "512KB", "ring_buffer_size": RING},
        },
        "kvfs": {"enabled": True, "path": "/kvfs"},
    }
}
WAIT = 30.0


server = server_fixture(CONFIG)


def block(index: int, size: int = 16 << 10) -> bytes:
    """A block whose bytes say which block it is, so order and gaps show."""
    return (f"<{index:08d}>".encode() * (size // 10 + 1))[:size]


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class StreamReader(threading.Thread):
    """Follows ``path`` with ``GET ?stream=true`` and keeps every byte it receives."""

    def __init__(self, server: ServerProcess, path: str) -> None:
        super().__init__(daemon=True)
        self.url = server.api + "/files"
        self.path = path
        self.data = bytearray()
        self.status: int | None = None
        self.error: Exception | None = None
        self.ended = threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, params={"path": self.path, "stream": "true"},
                              timeout=httpx.Timeout(WAIT, read=None)) as response:
                self.status = response.status_code
                self.connected.set()
                for chunk in response.iter_raw():
                    self.data += chunk
        except Exception as exc:
            self.error = exc
        finally:
            self.connected.set()
            self.ended.set()

    def start_and_wait(self) -> StreamReader:
        self.start()
        assert self.connected.wait(WAIT), "stream headers did not arrive"
        assert self.status == 200
        return self

    def wait_for(self, size: int) -> None:
        wait_until(lambda: len(self.data) >= size or self.ended.is_set(), f"{size} bytes")
        assert len(self.data) >= size, (len(self.data), self.error)

    def finish(self) -> bytes:
        assert self.ended.wait(WAIT), "reader did not end"
        assert self.error is None, self.error
        return bytes(self.data)


def stat_content(api: httpx.Client, path: str) -> dict[str, str]:
    response = api.get("/stat", params={"path": path})
    assert response.status_code == 200, response.text
    return response.json()["meta"]["Content"]


def close_stream(api: httpx.Client, name: str) -> None:
    response = api.put("/files", params={"path": "/streamfs/.close"}, content=name.encode())
    assert response.status_code == 200, response.text


def test_idle_stream_sends_headers_before_any_data(server, api):
    """A reader of an idle stream gets the 200 at once, not when data first arrives."""
    reader = StreamReader(server, "/streamfs/idle").start_and_wait()
    assert reader.data == b""
    api.delete("/files", params={"path": "/streamfs/idle"})
    assert reader.finish() == b""


def test_short_puts_three_readers_history_then_live(server, api):
    """Many short PUTs; readers joining at different times get the history, then every later
    byte in order; the end of a PUT does not end the stream; .close ends every reader."""
    path = "/streamfs/short"
    blocks = [block(i) for i in range(16)]
    readers = []
    for start in (0, 4, 8):
        for index in range(start, start + 4):
            response = api.put("/files", params={"path": path}, content=blocks[index])
            assert response.json() == {"message": f"Written {len(blocks[index])} bytes to stream"}
        reader = StreamReader(server, path).start_and_wait()
        reader.wait_for((start + 4) * len(blocks[0]))
        readers.append((start, reader))
    for index in range(12, 16):
        api.put("/files", params={"path": path}, content=blocks[index])
    assert stat_content(api, path)["active_readers"] == "3"
    close_stream(api, "short")
    for start, reader in readers:
        assert reader.finish() == b"".join(blocks), f"reader joining after block {start}"
    info = api.get("/stat", params={"path": path}).json()
    assert info["size"] == 16 * len(blocks[0])
    assert info["meta"]["Content"]["closed"] == "true"


def test_late_reader_gets_only_the_ring(server, api):
    """History is the last ring_buffer_size bytes, oldest first."""
    path = "/streamfs/ring"
    blocks = [block(i, 64 << 10) for i in range(8)]
    for data in blocks:
        api.put("/files", params={"path": path}, content=data)
    reader = StreamReader(server, path).start_and_wait()
    reader.wait_for(RING)
    api.delete("/files", params={"path": path})
    assert reader.finish() == b"".join(blocks[-(RING // len(blocks[0])):])


def test_one_chunked_put_reaches_readers_piece_by_piece(server, api):
    """A long-lived chunked PUT: each piece reaches the readers before the next one is sent,
    readers join mid-upload, and removing the stream ends them cleanly."""
    path = "/streamfs/chunked"
    blocks = [block(i) for i in range(12)]
    size = len(blocks[0])
    readers: list[StreamReader] = [StreamReader(server, path).start_and_wait()]

    def body():
        for index, data in enumerate(blocks):
            if index in (4, 8):
                readers.append(StreamReader(server, path).start_and_wait())
            yield data
            # Blocks until every reader has the piece: it fails if the server held the body.
            for reader in readers:
                reader.wait_for((index + 1) * size)

    result = {}
    writer = threading.Thread(target=lambda: result.update(
        response=httpx.put(server.api + "/files", params={"path": path}, content=body(),
                           timeout=WAIT)))
    writer.start()
    writer.join(WAIT * 2)
    assert result["response"].status_code == 200, result["response"].text
    assert result["response"].json() == {"message": f"Written {12 * size} bytes to stream"}
    assert api.get("/stat", params={"path": path}).json()["size"] == 12 * size
    api.delete("/files", params={"path": path})
    expected = b"".join(blocks)
    for reader in readers:
        assert reader.finish() == expected


def test_slow_reader_is_cut_off_and_memory_stays_bounded(server, api):
    """A reader that stops reading is cut off (truncated transfer) once its queue is full; the
    writer and a fast reader go on; the server's memory does not grow with the data."""
    path = "/streamfs/slow"
    piece = 256 << 10
    total = 64 << 20
    fast = StreamReader(server, path).start_and_wait()
    slow_client = httpx.Client(timeout=httpx.Timeout(WAIT, read=None))
    slow = slow_client.send(
        slow_client.build_request("GET", server.api + "/files",
                                  params={"path": path, "stream": "true"}),
        stream=True,
    )
    assert slow.status_code == 200
    rss_before = server.rss_bytes()
    peak = rss_before
    written = 0
    while written < total:
        api.put("/files", params={"path": path}, content=block(written // piece, piece))
        written += piece
        fast.wait_for(written)  # keeps the fast reader within its queue
        if written % (8 << 20) == 0:
            peak = max(peak, server.rss_bytes())
    content = stat_content(api, path)
    assert content["readers_cut_off"] == "1"
    assert content["active_readers"] == "1"
    assert peak - rss_before < 48 << 20, (rss_before, peak)
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        for chunk in slow.iter_raw():
            received += chunk
    slow.close()
    slow_client.close()
    expected = b"".join(block(i, piece) for i in range(total // piece))
    assert 0 < len(received) < total and expected.startswith(bytes(received))
    api.delete("/files", params={"path": path})
    assert fast.finish() == expected


def test_client_disconnect_frees_reader(server, api):
    """A reader that disconnects is gone from the stream at once."""
    path = "/streamfs/leave"
    with httpx.stream("GET", server.api + "/files", params={"path": path, "stream": "true"},
                      timeout=WAIT) as response:
        assert response.status_code == 200
        assert stat_content(api, path)["active_readers"] == "1"
    wait_until(lambda: stat_content(api, path)["active_readers"] == "0", "reader to leave")
    api.delete("/files", params={"path": path})


def test_closed_stream_refuses_writes_and_replays_history(server, api):
    path = "/streamfs/ended"
    api.put("/files", params={"path": path}, content=b"first ")
    api.put("/files", params={"path": path}, content=b"second")
    close_stream(api, "/ended")
    response = api.put("/files", params={"path": path}, content=b"more")
    assert response.status_code == 403
    assert "stream is closed" in response.json()["error"]
    late = StreamReader(server, path).start_and_wait()
    assert late.finish() == b"first second"
    api.delete("/files", params={"path": path})
    assert api.put("/files", params={"path": path}, content=b"new").status_code == 200
    api.delete("/files", params={"path": path})


def test_listing_and_stat(server, api):
    api.put("/files", params={"path": "/streamfs/a/b"}, content=b"xyz")
    names = {e["name"]: e for e in api.get("/directories", params={"path": "/streamfs"})
             .json()["files"]}
    assert {"README", ".close", "a/b"} <= set(names)
    assert names["a/b"]["size"] == 3 and names["a/b"]["meta"]["Type"] == "stream"
    readme = api.get("/files", params={"path": "/streamfs/README"})
    assert readme.status_code == 200 and b"streamfs" in readme.content
    assert len(readme.content) == names["README"]["size"]
    api.delete("/files", params={"path": "/streamfs/a/b"})


@pytest.mark.parametrize(
    ("method", "endpoint", "params", "kwargs", "status", "message"),
    [
        ("GET", "/files", {"path": "/streamfs/bad"}, {}, 400, "use stream mode"),
        ("POST", "/directories", {"path": "/streamfs/dir"}, {}, 501,
         "does not support directories"),
        ("POST", "/rename", {"path": "/streamfs/bad"}, {"json": {"newPath": "/streamfs/x"}}, 501,
         "does not support rename"),
        ("POST", "/chmod", {"path": "/streamfs/bad"}, {"json": {"mode": 420}}, 501,
         "does not support chmod"),
        ("POST", "/files", {"path": "/streamfs/bad"}, {}, 409,
         "file already exists: /streamfs/bad"),
        ("PUT", "/files", {"path": "/streamfs/.close"}, {"content": b"nope"}, 404,
         "no such file or directory: /streamfs/.close"),
        ("PUT", "/files", {"path": "/streamfs/.close"}, {"content": b""}, 400, "stream name"),
        ("PUT", "/files", {"path": "/streamfs/README"}, {"content": b"x"}, 403, "not a stream"),
        ("DELETE", "/files", {"path": "/streamfs/missing"}, {}, 404,
         "no such file or directory: /streamfs/missing"),
    ],
)
def test_bad_requests(api, method, endpoint, params, kwargs, status, message):
    """Each refused operation answers its status and message and leaves the stream as it was."""
    api.put("/files", params={"path": "/streamfs/bad"}, content=b"kept")
    response = api.request(method, endpoint, params=params, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert stat_content(api, "/streamfs/bad")["total_written"] == "4"
    api.delete("/files", params={"path": "/streamfs/bad"})


def test_bad_config_is_refused(api):
    response = api.post("/mount", json={"fstype": "streamfs", "path": "/s2",
                                        "config": {"ring_buffer_size": "lots"}})
    assert response.status_code == 400
    assert "ring_buffer_size" in response.json()["error"]
    assert "/s2" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


def test_buffer_size_key_sets_both_limits(api):
    """The original README's ``buffer_size: 10MB`` is accepted."""
    response = api.post("/mount", json={"fstype": "streamfs", "path": "/s3",
                                        "config": {"buffer_size": "10MB"}})
    assert response.status_code == 200, response.text
    api.post("/unmount", json={"path": "/s3"})


def test_default_config_mounts_streamfs():
    with ServerProcess() as proc:
        mounts = httpx.get(proc.api + "/mounts").json()["mounts"]
        assert {"path": "/streamfs", "pluginName": "streamfs", "instance": "streamfs",
                "status": "mounted", "shared": False} in mounts


def test_unmount_ends_live_readers_without_waiting(server, api):
    """Unmounting ends every live reader cleanly; the drain does not have to wait them out."""
    assert api.post("/mount", json={"fstype": "streamfs", "path": "/s4"}).status_code == 200
    api.put("/files", params={"path": "/s4/live"}, content=b"before unmount")
    readers = [StreamReader(server, "/s4/live").start_and_wait() for _ in range(2)]
    response = api.post("/unmount", json={"path": "/s4"}, timeout=60)
    assert response.status_code == 200, response.text
    for reader in readers:
        assert reader.finish() == b"before unmount"
    assert "requests still running" not in server.log()


def test_one_write_larger_than_the_channel_reaches_a_reader(server, api):
    """A reader is cut off only when a full channel is still unread, so one PUT larger than
    channel_buffer_size still reaches a reader that keeps up."""
    assert api.post("/mount", json={"fstype": "streamfs", "path": "/s5",
                                    "config": {"channel_buffer_size": 65536}}).status_code == 200
    reader = StreamReader(server, "/s5/big").start_and_wait()
    data = b"".join(block(i, 64 << 10) for i in range(16))
    api.put("/files", params={"path": "/s5/big"}, content=data)
    reader.wait_for(len(data))
    assert stat_content(api, "/s5/big")["readers_cut_off"] == "0"
    api.put("/files", params={"path": "/s5/.close"}, content=b"big")
    assert reader.finish() == data
    api.post("/unmount", json={"path": "/s5"})
