"""Bad HTTP input through a real server: absurd offsets and sizes, sparse writes past a plugin's
size limit, bodies that stall, unsupported or broken body framing. Each is refused with its own
status and leaves the data as it was."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pfs.testing.server import ServerProcess

BODY_TIMEOUT = 1.5
LIMITED = ["/memfs", "/kvfs/keys", "/sqlfs"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    config = {
        "server": {"body_timeout": BODY_TIMEOUT},
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs", "config": {"max_file_size": "1MB"}},
            "kvfs": {"enabled": True, "path": "/kvfs", "config": {"max_value_size": "1MB"}},
            "sqlfs": {
                "enabled": True,
                "path": "/sqlfs",
                "config": {"db_path": str(tmp / "sqlfs.db"), "max_file_size": "1MB"},
            },
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(tmp)}},
        },
    }
    with ServerProcess(config) as proc:
        yield proc


def exists(api: httpx.Client, path: str) -> bool:
    return api.get("/stat", params={"path": path}).status_code == 200


def raw_exchange(server: ServerProcess, head: bytes, body: bytes = b"", wait: float = 10.0):
    """Send ``head`` + ``body`` on a fresh connection; (status, headers, body text, closed)."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body)
        sock.settimeout(wait)
        data = b""
        closed = False
        try:
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
                piece = sock.recv(65536)
                if not piece:
                    closed = True
                    break
                data += piece
            sock.settimeout(1.0)
            closed = closed or sock.recv(1) == b""
        except TimeoutError:
            pass
    header_text, _, answer = data.partition(b"\r\n\r\n")
    lines = header_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, answer.decode(), closed


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def put_head(path: str, extra: str, query: str = "") -> bytes:
    return (f"PUT /api/v1/files?path={path}{query} HTTP/1.1\r\nHost: pfs\r\n{extra}\r\n").encode()


# -- offsets and sizes ---------------------------------------------------------------------


@pytest.mark.parametrize("mount", [*LIMITED, "/local"])
@pytest.mark.parametrize("offset", [str(1 << 63), "1" + "0" * 30, "-1"])
def test_write_offset_outside_int64_is_400(api, mount, offset):
    path = f"{mount}/absurd-{offset[:5]}"
    r = api.put("/files", params={"path": path, "offset": offset}, content=b"x")
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"invalid offset parameter: {offset[:40]} is out of range")
    assert not exists(api, path)


@pytest.mark.parametrize("name", ["offset", "size"])
def test_read_offset_and_size_outside_int64_are_400(api, name):
    api.put("/files", params={"path": "/memfs/readme"}, content=b"hello")
    r = api.get("/files", params={"path": "/memfs/readme", name: str(1 << 64)})
    assert r.status_code == 400 and r.json()["error"].startswith(f"invalid {name} parameter: ")
    # The spec's rule for reads stays: a negative offset is 0, a negative size reads to the end.
    assert api.get("/files", params={"path": "/memfs/readme", name: "-3"}).content == b"hello"


@pytest.mark.parametrize("mount", LIMITED)
def test_sparse_write_past_the_size_limit_is_413_without_allocating(server, api, mount):
    """Before: a 1-byte PUT at offset 256 MiB made memfs/kvfs/sqlfs build a 256 MiB value."""
    path = f"{mount}/sparse"
    api.put("/files", params={"path": path}, content=b"kept")
    rss_before = server.rss_bytes()
    r = api.put("/files", params={"path": path, "offset": 1 << 28}, content=b"x")
    grown = server.rss_bytes() - rss_before
    assert r.status_code == 413, r.text
    assert any(limit in r.json()["error"] for limit in ("1MB", str(1 << 20)))
    assert grown < 64 << 20, f"the worker grew by {grown >> 20} MiB"
    assert api.get("/files", params={"path": path}).content == b"kept"
    # The largest offset the wire allows is refused the same way, and creates nothing.
    r = api.put("/files", params={"path": f"{mount}/far", "offset": (1 << 63) - 1}, content=b"x")
    assert r.status_code == 413 and not exists(api, f"{mount}/far")
    # Up to the limit a sparse write still works, the gap filled with NULs.
    assert api.put("/files", params={"path": path, "offset": 6}, content=b"!").status_code == 200
    assert api.get("/files", params={"path": path}).content == b"kept\x00\x00!"


def test_streamed_body_past_memfs_limit_is_413_and_creates_nothing(api):
    r = api.put("/files", params={"path": "/memfs/big"}, content=iter([b"x" * (1 << 20)] * 2))
    assert r.status_code == 413 and str(1 << 20) in r.json()["error"]
    assert not exists(api, "/memfs/big")


def test_localfs_refused_in_place_write_leaves_no_new_file(api):
    """Before: the file was created, then the write failed (EFBIG as a 500) and it stayed."""
    r = api.put("/files", params={"path": "/local/huge", "offset": 1 << 62}, content=b"x")
    assert r.status_code == 413, r.text
    assert not exists(api, "/local/huge")


# -- a body that stalls --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "&flags=append", "&offset=2"])
def test_stalled_body_is_408_and_changes_nothing(server, api, query):
    """Before: a client that stopped sending held the request (and its connection) forever."""
    api.put("/files", params={"path": "/memfs/stall"}, content=b"original")
    status, headers, answer, closed = raw_exchange(
        server, put_head("/memfs/stall", "Content-Length: 100\r\n", query), b"partial"
    )
    assert status == 408 and "server.body_timeout" in answer
    assert headers["connection"] == "close" and closed
    assert api.get("/files", params={"path": "/memfs/stall"}).content == b"original"


def test_slow_body_that_keeps_coming_is_accepted(server, api):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(put_head("/memfs/slow", "Content-Length: 5\r\n"))
        for byte in b"hello":
            time.sleep(BODY_TIMEOUT / 5)  # every pause well within the timeout
            sock.sendall(bytes([byte]))
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    assert api.get("/files", params={"path": "/memfs/slow"}).content == b"hello"


# -- body framing --------------------------------------------------------------------------

CHUNKED_ABC = b"3\r\nabc\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    "coding",
    [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_transfer_coding_other_than_chunked_is_400(server, api, coding):
    """Before: the still gzip-coded body was stored as if it were the content."""
    status, headers, answer, closed = raw_exchange(
        server, put_head("/memfs/coded", coding), CHUNKED_ABC
    )
    assert status == 400 and "Transfer-Encoding" in answer
    assert headers["connection"] == "close" and closed
    assert not exists(api, "/memfs/coded")


@pytest.mark.parametrize("body", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXX\r\n0\r\n\r\n"])
def test_malformed_chunked_body_is_400(server, api, body):
    """Before: Granian reported it to the app as a disconnect and answered a bare 500."""
    api.put("/files", params={"path": "/memfs/chunky"}, content=b"original")
    for query in ("", "&flags=append"):
        status, headers, answer, _ = raw_exchange(
            server, put_head("/memfs/chunky", "Transfer-Encoding: chunked\r\n", query), body
        )
        assert status == 400 and "chunked encoding is invalid" in answer
        assert headers["content-type"] == "application/json"
    assert api.get("/files", params={"path": "/memfs/chunky"}).content == b"original"


def test_content_length_with_transfer_encoding_cannot_smuggle(server, api):
    """Granian (hyper) settles this framing before the app sees it (RFC 9112 6.3: the chunked
    body counts, Content-Length is dropped, the connection closes after the answer), so the
    bytes a Content-Length reader would take as the next request are never run. The app's own
    400 for both headers covers ASGI servers that pass them on (uvicorn with h11)."""
    smuggled = b"PUT /api/v1/files?path=/memfs/smuggled HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
    status, _, _, closed = raw_exchange(
        server,
        put_head("/memfs/framed", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        b"0\r\n\r\n" + smuggled,
    )
    assert status in (200, 400) and closed
    assert not exists(api, "/memfs/smuggled")
