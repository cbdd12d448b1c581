"""The handle API (/api/v1/handles/...) through the real server: every route, its errors, leases,
the open-handle limit, unmount closing handles, and per-file semantics (queues read once per
handle, streams with a reader per handle, writes in place)."""

from __future__ import annotations

import time

import httpx
import pytest

from pfs.fs.fileinfo import parse_time_ns
from pfs.testing.server import ServerProcess

CONFIG = {
    "server": {"max_open_handles": 5, "max_body_bytes": "1MB"},
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queue", "config": {"backend": "memory"}},
        "streamfs": {"enabled": True, "path": "/streams"},
        "hellofs": {"enabled": True, "path": "/hello"},
        "kvfs": [
            {"name": "kv", "enabled": True, "path": "/kv"},
            {"name": "ro", "enabled": True, "path": "/ro", "read_only": True},
        ],
    },
}

RDONLY, WRONLY, RDWR, APPEND, CREATE, EXCL, TRUNC = 0, 1, 2, 8, 16, 32, 64


@pytest.fixture(scope="module")
def server():
    with ServerProcess(CONFIG) as proc:
        yield proc


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.api, timeout=60) as client:
        yield client
        # Every test leaves no handle open (the limit is 5).
        for entry in client.get("/handles/").json()["handles"]:
            client.delete(f"/handles/{entry['handle_id']}")


def put(api, path, data):
    api.put("/files", params={"path": path}, content=data).raise_for_status()


def read_file(api, path):
    response = api.get("/files", params={"path": path})
    response.raise_for_status()
    return response.content


def open_handle(api, path, flags=RDONLY, **params):
    response = api.post("/handles/open", params={"path": path, "flags": flags, **params})
    assert response.status_code == 200, response.text
    return response.json()["handle_id"]


def error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- open ------------------------------------------------------------------------------------


def test_open_answers_ids_that_grow_and_the_agfs_fields(api):
    put(api, "/memfs/open.txt", b"hello")
    first = api.post("/handles/open", params={"path": "/memfs/open.txt"}).json()
    assert list(first) == ["handle_id", "path", "flags", "lease", "expires_at"]
    assert first["path"] == "/memfs/open.txt"
    assert first["flags"] == 0 and first["lease"] == 60
    second = open_handle(api, "/memfs/open.txt")
    assert second > first["handle_id"] > 0


def test_open_create_excl_trunc_and_mode(api):
    handle = open_handle(api, "/memfs/new.txt", WRONLY | CREATE, mode="600")
    assert api.get("/stat", params={"path": "/memfs/new.txt"}).json()["mode"] == 0o600
    api.put(f"/handles/{handle}/write", content=b"abcdef").raise_for_status()
    message = error(api.post("/handles/open", params={
        "path": "/memfs/new.txt", "flags": WRONLY | CREATE | EXCL}), 409)
    assert "/memfs/new.txt" in message
    open_handle(api, "/memfs/new.txt", WRONLY | TRUNC)
    assert read_file(api, "/memfs/new.txt") == b""


def test_open_without_create_of_a_missing_file_is_404(api):
    message = error(api.post("/handles/open", params={"path": "/memfs/none.txt"}), 404)
    assert message == "no such file or directory: /memfs/none.txt"
    error(api.post("/handles/open", params={"path": "/nomount/x"}), 404)


def test_open_refuses_bad_parameters(api):
    put(api, "/memfs/params.txt", b"x")
    path = "/memfs/params.txt"
    bad = [
        ({"flags": "read"}, "invalid flags parameter: must be a number"),
        ({"flags": "3"}, "invalid flags parameter: access mode 3"),
        ({"mode": "9"}, "invalid mode parameter"),
        ({"mode": "77777"}, "invalid mode parameter"),
        ({"lease": "0"}, "invalid lease parameter: 0 (must be between 1 and 3600 seconds)"),
        ({"lease": "3601"}, "invalid lease parameter"),
        ({"lease": "soon"}, "invalid lease parameter"),
    ]
    for params, text in bad:
        assert text in error(api.post("/handles/open", params={"path": path, **params}), 400)
    assert "path" in error(api.post("/handles/open"), 400)
    error(api.get("/handles/open", params={"path": path}), 405)
    assert api.get("/handles/").json()["count"] == 0


def test_open_follows_symlinks(api):
    put(api, "/memfs/target.txt", b"through the link")
    api.post("/symlink", params={"path": "/memfs/link.txt"}, json={"target": "target.txt"})
    handle = open_handle(api, "/memfs/link.txt", RDWR)
    assert api.get(f"/handles/{handle}").json()["path"] == "/memfs/target.txt"
    assert api.get(f"/handles/{handle}/read").content == b"through the link"
    api.put(f"/handles/{handle}/write", params={"offset": 0}, content=b"THROUGH").raise_for_status()
    assert read_file(api, "/memfs/target.txt") == b"THROUGH the link"


def test_open_of_a_directory_is_refused(api):
    api.post("/directories", params={"path": "/memfs/adir"})
    message = error(api.post("/handles/open", params={"path": "/memfs/adir"}), 400)
    assert message == "is a directory: /memfs/adir"


def test_open_for_writing_on_a_read_only_mount_is_403(api):
    error(api.post("/handles/open", params={"path": "/ro/k", "flags": WRONLY | CREATE}), 403)


def test_writing_open_on_a_plugin_without_random_writes_is_501_reading_works(api):
    message = error(api.post("/handles/open", params={"path": "/hello/hello", "flags": RDWR}), 501)
    assert "/hello/hello" in message and "operation not supported" in message
    handle = open_handle(api, "/hello/hello")
    assert api.get(f"/handles/{handle}/read").content == read_file(api, "/hello/hello")


# -- flags encodings --------------------------------------------------------------------------


def test_linux_flag_bits_are_honoured_and_64_stays_trunc(api):
    put(api, "/memfs/linux.txt", b"0123456789")
    # Linux O_WRONLY|O_APPEND (1024): writes go to the end.
    handle = open_handle(api, "/memfs/linux.txt", WRONLY | 1024)
    assert api.get(f"/handles/{handle}").json()["flags"] == WRONLY | APPEND
    api.put(f"/handles/{handle}/write", content=b"AB").raise_for_status()
    assert read_file(api, "/memfs/linux.txt") == b"0123456789AB"
    # Linux O_TRUNC (512) empties the file.
    open_handle(api, "/memfs/linux.txt", WRONLY | 512)
    assert read_file(api, "/memfs/linux.txt") == b""
    # 64 is the server's TRUNC (Linux's O_CREAT): never read as create.
    put(api, "/memfs/linux.txt", b"full")
    open_handle(api, "/memfs/linux.txt", WRONLY | 64)
    assert read_file(api, "/memfs/linux.txt") == b""
    error(api.post("/handles/open", params={"path": "/memfs/linux-new", "flags": WRONLY | 64}), 404)
    # Linux O_EXCL (128) with the server's CREATE refuses an existing file.
    error(api.post("/handles/open", params={
        "path": "/memfs/linux.txt", "flags": WRONLY | CREATE | 128}), 409)
    # Unknown bits (the Go SDK's O_SYNC) are ignored.
    open_handle(api, "/memfs/linux.txt", WRONLY | 1052672)


def test_pyagfs_decimal_mode_text_is_read_as_octal(api):
    open_handle(api, "/memfs/pymode.txt", WRONLY | CREATE, mode="420")
    assert api.get("/stat", params={"path": "/memfs/pymode.txt"}).json()["mode"] == 0o420


# -- read, write, seek ------------------------------------------------------------------------


def test_read_at_position_and_pread(api):
    put(api, "/memfs/read.txt", b"0123456789")
    handle = open_handle(api, "/memfs/read.txt")
    first = api.get(f"/handles/{handle}/read", params={"size": 4})
    assert first.content == b"0123" and first.headers["x-bytes-read"] == "4"
    assert first.headers["content-type"] == "application/octet-stream"
    assert api.get(f"/handles/{handle}/read", params={"size": 3}).content == b"456"
    pread = api.get(f"/handles/{handle}/read", params={"size": 2, "offset": 1})
    assert pread.content == b"12"
    assert api.get(f"/handles/{handle}").json()["position"] == 7  # pread left it
    assert api.get(f"/handles/{handle}/read").content == b"789"
    end = api.get(f"/handles/{handle}/read")
    assert end.status_code == 200 and end.content == b"" and end.headers["x-bytes-read"] == "0"
    assert api.get(f"/handles/{handle}/read", params={"size": -1, "offset": 0}).content == (
        b"0123456789"
    )


def test_read_refuses_bad_sizes_naming_the_limit(api):
    put(api, "/memfs/size.txt", b"x")
    handle = open_handle(api, "/memfs/size.txt")
    message = error(api.get(f"/handles/{handle}/read", params={"size": 1 << 30}), 400)
    assert "16777216 bytes" in message
    assert "invalid size parameter" in error(
        api.get(f"/handles/{handle}/read", params={"size": "big"}), 400
    )
    assert "invalid offset parameter" in error(
        api.get(f"/handles/{handle}/read", params={"offset": -1}), 400
    )


def test_write_in_place_does_not_rewrite_the_file(api):
    put(api, "/memfs/place.bin", b"a" * 10)
    handle = open_handle(api, "/memfs/place.bin", RDWR)
    answer = api.put(f"/handles/{handle}/write", params={"offset": 3}, content=b"XY").json()
    assert answer == {"bytes_written": 2, "position": 0}
    answer = api.put(f"/handles/{handle}/write", content=b"12").json()
    assert answer == {"bytes_written": 2, "position": 2}
    assert read_file(api, "/memfs/place.bin") == b"12aXYaaaaa"
    api.put(f"/handles/{handle}/write", params={"offset": 12}, content=b"Z").raise_for_status()
    assert read_file(api, "/memfs/place.bin") == b"12aXYaaaaa\x00\x00Z"


def test_a_large_write_is_staged_and_bounded_by_the_body_limit(api):
    # kvfs buffers a write whole, so server.max_body_bytes (1 MB here) bounds it, as for PUT.
    handle = open_handle(api, "/kv/keys/large.bin", WRONLY | CREATE)

    def pieces(total, piece=256 << 10):
        for _ in range(total // piece):
            yield b"q" * piece

    # A chunked body (no Content-Length) beyond the inline size goes through staging.
    response = api.put(f"/handles/{handle}/write", content=pieces(1 << 20))
    assert response.json()["bytes_written"] == 1 << 20
    assert api.get("/stat", params={"path": "/kv/keys/large.bin"}).json()["size"] == 1 << 20
    message = error(api.put(f"/handles/{handle}/write", content=pieces(2 << 20)), 413)
    assert "1048576 bytes" in message
    message = error(api.put(f"/handles/{handle}/write", content=b"x" * (2 << 20)), 413)
    assert "1048576 bytes" in message
    assert api.get("/stat", params={"path": "/kv/keys/large.bin"}).json()["size"] == 1 << 20


def test_access_mode_is_enforced(api):
    put(api, "/memfs/mode.txt", b"data")
    reader = open_handle(api, "/memfs/mode.txt")
    message = error(api.put(f"/handles/{reader}/write", content=b"x"), 403)
    assert "/memfs/mode.txt" in message and "not opened for writing" in message
    writer = open_handle(api, "/memfs/mode.txt", WRONLY)
    assert "not opened for reading" in error(api.get(f"/handles/{writer}/read"), 403)
    assert "not opened for reading" in error(api.get(f"/handles/{writer}/stream"), 403)
    assert read_file(api, "/memfs/mode.txt") == b"data"


def test_seek_from_start_current_and_end(api):
    put(api, "/memfs/seek.txt", b"0123456789")
    handle = open_handle(api, "/memfs/seek.txt")
    seek = f"/handles/{handle}/seek"
    assert api.post(seek, params={"offset": 4}).json()["position"] == 4
    assert api.post(seek, params={"offset": 2, "whence": 1}).json()["position"] == 6
    assert api.get(f"/handles/{handle}/read", params={"size": 2}).content == b"67"
    assert api.post(seek, params={"offset": -3, "whence": 2}).json()["position"] == 7
    assert api.get(f"/handles/{handle}/read").content == b"789"
    assert "offset parameter is required" in error(api.post(seek), 400)
    assert "invalid offset parameter" in error(api.post(seek, params={"offset": "x"}), 400)
    assert "invalid whence parameter (must be 0, 1, or 2)" in error(
        api.post(seek, params={"offset": 0, "whence": 3}), 400
    )
    assert "before the start" in error(api.post(seek, params={"offset": -1}), 400)
    assert api.get(f"/handles/{handle}").json()["position"] == 10


def test_sync_stat_stream_truncate(api):
    put(api, "/memfs/misc.txt", b"0123456789")
    handle = open_handle(api, "/memfs/misc.txt", RDWR)
    assert api.post(f"/handles/{handle}/sync").json() == {"message": "synced"}
    info = api.get(f"/handles/{handle}/stat").json()
    assert info["name"] == "misc.txt" and info["size"] == 10
    api.post(f"/handles/{handle}/seek", params={"offset": 3})
    streamed = api.get(f"/handles/{handle}/stream")
    assert streamed.content == b"3456789"
    assert streamed.headers["x-content-type-options"] == "nosniff"
    assert api.post(f"/handles/{handle}/truncate", params={"size": 0}).json() == {
        "message": "truncated"
    }
    assert read_file(api, "/memfs/misc.txt") == b""
    api.post(f"/handles/{handle}/truncate", params={"size": 4}).raise_for_status()
    assert read_file(api, "/memfs/misc.txt") == b"\x00" * 4
    assert "size parameter is required" in error(api.post(f"/handles/{handle}/truncate"), 400)
    reader = open_handle(api, "/memfs/misc.txt")
    error(api.post(f"/handles/{reader}/truncate", params={"size": 0}), 403)


# -- ids, list, close, routing ----------------------------------------------------------------


def test_list_info_and_close(api):
    put(api, "/memfs/list.txt", b"x")
    handle = open_handle(api, "/memfs/list.txt", RDWR, lease=30)
    listed = api.get("/handles/").json()
    assert listed["count"] == 1 and listed["max"] == 5
    assert [h["handle_id"] for h in listed["handles"]] == [handle]
    info = api.get(f"/handles/{handle}").json()
    assert info["path"] == "/memfs/list.txt" and info["flags"] == RDWR and info["lease"] == 30
    assert {"created_at", "last_access", "expires_at"} <= set(info)
    assert api.delete(f"/handles/{handle}").json() == {"message": "handle closed"}
    for response in (
        api.get(f"/handles/{handle}"),
        api.delete(f"/handles/{handle}"),
        api.get(f"/handles/{handle}/read"),
    ):
        assert "handle not found" in error(response, 404)
    assert api.get("/handles/").json() == {"handles": [], "count": 0, "max": 5}


def test_handles_without_slash_redirects_to_the_list(api, server):
    response = httpx.get(server.api + "/handles", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/api/v1/handles/"
    assert httpx.get(server.api + "/handles", follow_redirects=True).json()["count"] == 0


def test_routing_errors(api):
    put(api, "/memfs/route.txt", b"x")
    handle = open_handle(api, "/memfs/route.txt")
    assert error(api.get("/handles/abc"), 400) == "invalid handle ID: must be a number"
    assert error(api.get("/handles/-1/read"), 400) == "invalid handle ID: must be a number"
    assert error(api.get("/handles/99999999999999999999"), 400).startswith("invalid handle ID")
    assert error(api.get(f"/handles/{handle}/frobnicate"), 404) == (
        "unknown operation: frobnicate"
    )
    error(api.post(f"/handles/{handle}/read"), 405)
    error(api.get(f"/handles/{handle}/write"), 405)
    error(api.post("/handles/"), 405)
    assert "handle not found" in error(api.get("/handles/123456789"), 404)


def test_the_open_handle_limit_is_enforced(api):
    put(api, "/memfs/limit.txt", b"x")
    handles = [open_handle(api, "/memfs/limit.txt") for _ in range(5)]
    message = error(api.post("/handles/open", params={"path": "/memfs/limit.txt"}), 503)
    assert "too many open handles" in message and "server.max_open_handles" in message
    api.delete(f"/handles/{handles[0]}").raise_for_status()
    assert open_handle(api, "/memfs/limit.txt") > handles[-1]


# -- leases -----------------------------------------------------------------------------------


def test_every_operation_and_renew_move_the_lease(api):
    put(api, "/memfs/renew.txt", b"x")
    handle = open_handle(api, "/memfs/renew.txt", lease=5)
    before = api.get(f"/handles/{handle}").json()
    time.sleep(0.05)
    api.get(f"/handles/{handle}/read")
    after_read = api.get(f"/handles/{handle}").json()
    for key in ("expires_at", "last_access"):
        assert parse_time_ns(after_read[key]) > parse_time_ns(before[key])
    renewed = api.post(f"/handles/{handle}/renew", params={"lease": 120}).json()
    assert renewed["handle_id"] == handle and renewed["lease"] == 120
    assert api.get(f"/handles/{handle}").json()["lease"] == 120
    assert "invalid lease parameter" in error(
        api.post(f"/handles/{handle}/renew", params={"lease": 0}), 400
    )


def test_an_idle_handle_expires_after_its_lease(api):
    put(api, "/memfs/expire.txt", b"x")
    short = open_handle(api, "/memfs/expire.txt", lease=1)
    long = open_handle(api, "/memfs/expire.txt", lease=60)
    time.sleep(2.5)
    assert "handle not found" in error(api.get(f"/handles/{short}/read"), 404)
    assert [h["handle_id"] for h in api.get("/handles/").json()["handles"]] == [long]
    assert open_handle(api, "/memfs/expire.txt") > long  # the id is not reused


def test_an_expired_stream_handle_releases_its_reader_untouched(api):
    api.post("/files", params={"path": "/streams/idle"}).raise_for_status()

    def readers():
        meta = api.get("/stat", params={"path": "/streams/idle"}).json()["meta"]
        return meta["Content"]["active_readers"]

    open_handle(api, "/streams/idle", lease=1)
    assert readers() == "1"
    deadline = time.monotonic() + 30
    while readers() != "0":  # the server's sweep closes it without anyone asking for it
        assert time.monotonic() < deadline, "the expired handle kept its stream reader"
        time.sleep(0.2)


# -- unmount ----------------------------------------------------------------------------------


def test_unmount_closes_the_mounts_handles_and_ids_are_never_reused(api):
    api.post("/mount", json={"fstype": "memfs", "path": "/gone"}).raise_for_status()
    put(api, "/gone/f.txt", b"abc")
    put(api, "/memfs/stays.txt", b"abc")
    gone = [open_handle(api, "/gone/f.txt"), open_handle(api, "/gone/f.txt", RDWR)]
    stays = open_handle(api, "/memfs/stays.txt")
    api.post("/unmount", json={"path": "/gone"}).raise_for_status()
    for handle in gone:
        assert "handle not found" in error(api.get(f"/handles/{handle}/read"), 404)
    assert api.get(f"/handles/{stays}/read").content == b"abc"
    api.post("/mount", json={"fstype": "memfs", "path": "/gone"}).raise_for_status()
    put(api, "/gone/f.txt", b"new")
    fresh = open_handle(api, "/gone/f.txt")
    assert fresh > max(gone + [stays])
    api.delete(f"/handles/{fresh}")
    api.post("/unmount", json={"path": "/gone"}).raise_for_status()


# -- per-file semantics -----------------------------------------------------------------------


def test_a_queue_handle_dequeues_once_and_serves_the_copy(api):
    api.post("/directories", params={"path": "/queue/jobs"}).raise_for_status()
    for body in (b"first", b"second"):
        put(api, "/queue/jobs/enqueue", body)
    handle = open_handle(api, "/queue/jobs/dequeue")
    head = api.get(f"/handles/{handle}/read", params={"size": 10}).content
    rest = api.get(f"/handles/{handle}/read", params={"size": 4096}).content
    again = api.get(f"/handles/{handle}/read", params={"offset": 0, "size": 4096}).content
    message = head + rest
    assert b'"data":"first"' in message and again == message
    assert read_file(api, "/queue/jobs/size") == b"1"  # one message consumed, not three
    other = open_handle(api, "/queue/jobs/dequeue")
    assert b'"data":"second"' in api.get(f"/handles/{other}/read").content
    assert read_file(api, "/queue/jobs/size") == b"0"


def test_each_write_on_an_enqueue_handle_is_one_message(api):
    api.post("/directories", params={"path": "/queue/w"}).raise_for_status()
    handle = open_handle(api, "/queue/w/enqueue", WRONLY)
    for body in (b"one", b"two"):
        assert api.put(f"/handles/{handle}/write", content=body).json()["bytes_written"] == 3
    assert read_file(api, "/queue/w/size") == b"2"
    # The O_TRUNC FUSE sends with a redirection empties no queue.
    open_handle(api, "/queue/w/enqueue", WRONLY | 512)
    assert read_file(api, "/queue/w/size") == b"2"


def test_a_stream_handle_reads_what_is_written_after_it_opened(api):
    api.post("/files", params={"path": "/streams/live"}).raise_for_status()
    reader = open_handle(api, "/streams/live")
    writer = open_handle(api, "/streams/live", WRONLY)
    api.put(f"/handles/{writer}/write", content=b"chunk-1").raise_for_status()
    put(api, "/streams/live", b"chunk-2")
    got = b""
    while len(got) < 14:
        piece = api.get(f"/handles/{reader}/read", params={"size": 5}).content
        assert piece, "data was written: the read must not time out"
        got += piece
    assert got == b"chunk-1chunk-2"
    # A second reader is independent (it gets the history, then its own live data).
    second = open_handle(api, "/streams/live")
    assert api.get(f"/handles/{second}/read", params={"size": 100}).content.startswith(b"chunk")


def test_a_stream_read_with_nothing_new_answers_no_bytes(api):
    api.post("/files", params={"path": "/streams/quiet"}).raise_for_status()
    reader = open_handle(api, "/streams/quiet")
    quiet = api.get(f"/handles/{reader}/read", params={"size": 10})
    assert quiet.status_code == 200 and quiet.content == b""
    put(api, "/streams/quiet", b"now")
    assert api.get(f"/handles/{reader}/read", params={"size": 10}).content == b"now"


def test_closing_a_stream_handle_ends_its_stream_response(api, server):
    api.post("/files", params={"path": "/streams/ends"}).raise_for_status()
    reader = open_handle(api, "/streams/ends")
    put(api, "/streams/ends", b"hello")
    with httpx.Client(timeout=30) as other, other.stream(
        "GET", server.api + f"/handles/{reader}/stream"
    ) as response:
        pieces = response.iter_bytes()
        assert next(pieces) == b"hello"
        api.delete(f"/handles/{reader}").raise_for_status()
        assert b"".join(pieces) == b""


def test_a_read_token_opens_for_reading_only(start_server):
    config = {
        "server": {"auth": {"tokens": [
            {"token": "reader", "role": "read"}, {"token": "writer", "role": "write"}]}},
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    }
    srv = start_server(config)
    reader = srv.client(headers={"Authorization": "Bearer reader"})
    writer = srv.client(headers={"Authorization": "Bearer writer"})
    with reader, writer:
        put(writer, "/memfs/a.txt", b"data")
        for flags in (WRONLY, RDWR, CREATE, RDONLY | TRUNC):
            message = error(reader.post("/handles/open", params={
                "path": "/memfs/a.txt", "flags": flags}), 403)
            assert "needs 'write'" in message
        handle = open_handle(reader, "/memfs/a.txt")
        assert reader.get(f"/handles/{handle}/read").content == b"data"
        rw = open_handle(writer, "/memfs/a.txt", RDWR)
        error(reader.put(f"/handles/{rw}/write", content=b"x"), 403)
        error(reader.post(f"/handles/{rw}/truncate", params={"size": 0}), 403)
        assert read_file(writer, "/memfs/a.txt") == b"data"
        error(httpx.post(srv.api + "/handles/open", params={"path": "/memfs/a.txt"}), 401)


def test_handle_semantics_follow_the_declared_read_effect_through_any_plugin(api, server):
    """proxyfs knows nothing of queues or streams: the effect each file declares (readEffect on
    the wire) is what makes a handle read a message once and follow a stream live."""
    api.post("/mount", json={
        "fstype": "proxyfs", "path": "/far", "config": {"base_url": server.url + "/"},
    }).raise_for_status()
    try:
        api.post("/directories", params={"path": "/queue/far"}).raise_for_status()
        for body in (b"m1", b"m2"):
            put(api, "/queue/far/enqueue", body)
        handle = open_handle(api, "/far/queue/far/dequeue")
        message = b""
        while piece := api.get(f"/handles/{handle}/read", params={"size": 8}).content:
            message += piece
        assert b'"data":"m1"' in message
        assert read_file(api, "/queue/far/size") == b"1"

        api.post("/files", params={"path": "/streams/far"}).raise_for_status()
        reader = open_handle(api, "/far/streams/far")
        put(api, "/streams/far", b"live through the proxy")
        got = b""
        while len(got) < 22:
            piece = api.get(f"/handles/{reader}/read", params={"size": 100}).content
            assert piece, "data was written: the read must not time out"
            got += piece
        assert got == b"live through the proxy"

        # Writing at an offset through proxyfs changes only those bytes on the far side.
        put(api, "/memfs/far.txt", b"0123456789")
        writer = open_handle(api, "/far/memfs/far.txt", WRONLY)
        api.put(f"/handles/{writer}/write", params={"offset": 4}, content=b"xx").raise_for_status()
        assert read_file(api, "/memfs/far.txt") == b"0123xx6789"
    finally:
        api.post("/unmount", json={"path": "/far"}).raise_for_status()
