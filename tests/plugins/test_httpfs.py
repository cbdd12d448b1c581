"""httpfs: real HTTP servers started by mounts of a real pfs-server."""

from __future__ import annotations

import contextlib
import os
import re
import socket
from html.parser import HTMLParser

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.server import ServerProcess, free_port

# A memfs-only server per module; the root conftest's ``api`` talks to it.
server = server_fixture(MEMFS_ONLY)


@pytest.fixture
def site(api):
    """A tree under /memfs/site-N served by an httpfs mount; yields (mount path, http base URL)."""
    base = f"/memfs/site-{free_port()}"
    api.post("/directories", params={"path": base})
    api.post("/directories", params={"path": f"{base}/docs"})
    api.put("/files", params={"path": f"{base}/README"}, content=b"# Welcome\nread me")
    api.put("/files", params={"path": f"{base}/index.html"}, content=b"<p>hi</p>")
    api.put("/files", params={"path": f"{base}/docs/data.json"}, content=b'{"a": 1}')
    api.put("/files", params={"path": f"{base}/docs/a b&c.txt"}, content=b"spaced")
    port = free_port()
    mount = f"/web-{port}"
    r = api.post(
        "/mount",
        json={"fstype": "httpfs", "path": mount, "config": {"pfs_path": base, "port": port}},
    )
    assert r.status_code == 200, r.text
    yield mount, f"http://127.0.0.1:{port}", base
    api.post("/unmount", json={"path": mount})
    api.delete("/files", params={"path": base, "recursive": "true"})


class LinkParser(HTMLParser):
    """The listing's links (those in its table: the breadcrumbs above it go in ``crumbs``)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.crumbs: list[str] = []
        self.title = ""
        self._in_title = False
        self._in_table = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            (self.links if self._in_table else self.crumbs).append(dict(attrs)["href"])
        self._in_title = tag == "title"
        self._in_table = self._in_table or tag == "table"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False
        if tag == "table":
            self._in_table = False


def test_listing_is_html_with_working_links(site):
    """The root lists directories first with links a browser can follow to every file."""
    _, url, base = site
    r = httpx.get(url + "/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = LinkParser()
    page.feed(r.text)
    assert page.title == "Directory listing for /"
    assert page.links == ["/docs/", "/README", "/index.html"]
    assert f"pfs httpfs server - serving: {base}" in r.text
    assert "<pre># Welcome\nread me</pre>" in r.text  # README shown under the listing
    docs = httpx.get(url + "/docs/")
    sub = LinkParser()
    sub.feed(docs.text)
    assert sub.links[0] == "/"  # parent link
    assert sub.crumbs == ["/"] and "<span>docs</span>" in docs.text  # breadcrumbs
    assert '<td class="size" title="6 bytes">6 B</td>' in docs.text  # sizes for people
    assert "<style>" in docs.text and ".listing" in docs.text  # the web UI's look, inline
    for link in sub.links[1:]:
        assert httpx.get(url + link).status_code == 200, link
    assert httpx.get(url + "/docs/a%20b%26c.txt").content == b"spaced"


def test_content_types_and_headers(site):
    """Files carry the original's Content-Type, an exact length and Last-Modified."""
    _, url, _ = site
    readme = httpx.get(url + "/README")
    assert readme.headers["content-type"] == "text/plain; charset=utf-8"
    assert "attachment" not in readme.headers.get("content-disposition", "")
    assert readme.content == b"# Welcome\nread me"
    assert readme.headers["content-length"] == str(len(readme.content))
    assert "last-modified" in readme.headers
    assert httpx.get(url + "/index.html").headers["content-type"] == "text/html; charset=utf-8"
    r = httpx.get(url + "/docs/data.json")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert httpx.get(url + "/missing").status_code == 404
    assert httpx.get(url + "/missing").text == "404 page not found\n"
    head = httpx.head(url + "/README")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b"# Welcome\nread me"))


def test_range_requests(api, site):
    """Range returns 206 with the slice; an unsatisfiable range is 416."""
    _, url, base = site
    data = os.urandom(3 << 20)
    api.put("/files", params={"path": f"{base}/big.bin"}, content=data)
    r = httpx.get(url + "/big.bin", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = httpx.get(url + "/big.bin", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = httpx.get(url + "/big.bin", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    whole = httpx.get(url + "/big.bin")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-length"] == str(len(data))
    ignored = httpx.get(url + "/big.bin", headers={"Range": "items=0-5"})  # not a byte range
    assert ignored.status_code == 200 and ignored.content == data


def test_head_states_lengths_without_bodies(api, site):
    """HEAD of a streamed file and of a range: GET's status and headers, no body."""
    _, url, base = site
    size = 3 << 20
    api.put("/files", params={"path": f"{base}/big.bin"}, content=os.urandom(size))
    head = httpx.head(url + "/big.bin")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(size)
    assert head.headers["accept-ranges"] == "bytes" and "last-modified" in head.headers
    ranged = httpx.head(url + "/big.bin", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-length"] == "10"
    assert ranged.headers["content-range"] == f"bytes 10-19/{size}"


def test_malformed_request_is_400_and_serving_goes_on(site):
    _, url, _ = site
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert raw.recv(64).startswith(b"HTTP/1.1 400 ")
    assert httpx.get(url + "/README").status_code == 200


def test_unmount_cuts_off_a_stalled_download(api, site):
    """A client that stops reading mid-download does not keep the mount alive: unmount ends its
    connection (after the grace given to answers in flight) and frees the port."""
    mount, url, base = site
    size = 64 << 20
    api.put("/files", params={"path": f"{base}/huge.bin"}, content=os.urandom(size))
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as stalled:
        stalled.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert stalled.recv(64).startswith(b"HTTP/1.1 200 ")
        assert api.post("/unmount", json={"path": mount}).status_code == 200
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while piece := stalled.recv(1 << 20):
                received += len(piece)
    assert received < size
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_status_file(api, site):
    """The mount point is a read-only status file with the spec's fields."""
    mount, url, base = site
    port = url.rsplit(":", 1)[1]
    stat = api.get("/stat", params={"path": mount}).json()
    assert stat["name"] == "status" and stat["mode"] == 0o444 and not stat["isDir"]
    assert stat["meta"] == {"Name": "httpfs-status", "Type": "virtual", "Content": None}
    text = api.get("/files", params={"path": mount}).text
    assert stat["size"] == len(text.encode())
    lines = text.split("\n")
    assert lines[0] == "HTTPFS Instance Status" and lines[1] == "=" * 22
    assert f"Virtual Path:    {mount}" in lines
    assert f"PFS Source Path: {base}" in lines
    assert "HTTP Host:       127.0.0.1" in lines
    assert f"HTTP Port:       {port}" in lines
    assert f"HTTP Endpoint:   {url}" in lines
    assert "Server Status:   Running" in lines
    assert any(re.fullmatch(r"Start Time:      \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ln) for ln in lines)
    assert any(re.fullmatch(r"Uptime:          (\d+m)?\d+s", ln) for ln in lines)
    assert f"  CLI:           curl {url}/" in lines
    assert text.endswith(f"All files under {base} are accessible via HTTP on 127.0.0.1:{port}\n")
    r = api.put("/files", params={"path": f"{mount}/x"}, content=b"x")
    assert r.status_code == 403
    assert r.json()["error"].endswith(  # the server may name the path in front
        "httpfs is read-only via filesystem interface, use HTTP to access files"
    )


def test_the_mount_point_is_listed_as_the_file_stat_says_it_is(api, site):
    """The root listing agrees with stat: an httpfs mount point is a file (its status), while
    other mount points stay directories."""
    mount, _, _ = site
    entries = {e["name"]: e for e in api.get("/directories", params={"path": "/"}).json()["files"]}
    listed = entries[mount.lstrip("/")]
    assert (listed["isDir"], listed["mode"]) == (False, 0o444)
    assert not api.get("/stat", params={"path": mount}).json()["isDir"]
    assert entries["memfs"]["isDir"]


def test_several_instances_and_unmount_closes_port(api):
    """Two instances on two ports serve different paths; unmount frees the port for reuse."""
    api.put("/files", params={"path": "/memfs/one.txt"}, content=b"1")
    ports = [free_port(), free_port()]
    api.post("/directories", params={"path": "/memfs/sub"})
    api.put("/files", params={"path": "/memfs/sub/two.txt"}, content=b"2")
    for port, source in zip(ports, ["/memfs", "/memfs/sub"], strict=True):
        r = api.post(
            "/mount",
            json={
                "fstype": "httpfs",
                "path": f"/h{port}",
                "config": {"pfs_path": source, "http_port": port},
            },
        )
        assert r.status_code == 200, r.text
    assert httpx.get(f"http://127.0.0.1:{ports[0]}/one.txt").content == b"1"
    assert httpx.get(f"http://127.0.0.1:{ports[1]}/two.txt").content == b"2"
    with httpx.Client() as keep_alive:  # an open keep-alive connection must not block unmount
        assert keep_alive.get(f"http://127.0.0.1:{ports[0]}/").status_code == 200
        assert api.post("/unmount", json={"path": f"/h{ports[0]}"}).status_code == 200
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    assert httpx.get(f"http://127.0.0.1:{ports[1]}/two.txt").content == b"2"
    r = api.post(
        "/mount",
        json={
            "fstype": "httpfs",
            "path": f"/h{ports[0]}",
            "config": {"pfs_path": "/memfs", "port": str(ports[0])},
        },
    )
    assert r.status_code == 200, r.text
    for port in ports:
        api.post("/unmount", json={"path": f"/h{port}"})


def test_busy_port_fails_the_mount(api):
    """A port already in use is a 409 naming host and port; nothing is mounted."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = api.post(
            "/mount",
            json={
                "fstype": "httpfs",
                "path": "/busy",
                "config": {"pfs_path": "/memfs", "port": port},
            },
        )
    assert r.status_code == 409
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in r.json()["error"]
    assert "/busy" not in {m["path"] for m in api.get("/mounts").json()["mounts"] or []}


def test_bad_config(api):
    """Missing pfs_path, a bad port and conflicting port keys are 400."""
    r = api.post("/mount", json={"fstype": "httpfs", "path": "/bad", "config": {}})
    assert r.status_code == 400 and "pfs_path is required" in r.json()["error"]
    r = api.post(
        "/mount",
        json={"fstype": "httpfs", "path": "/bad", "config": {"pfs_path": "/memfs", "port": 70000}},
    )
    assert r.status_code == 400 and "'port'" in r.json()["error"]
    r = api.post(
        "/mount",
        json={
            "fstype": "httpfs",
            "path": "/bad",
            "config": {"pfs_path": "/memfs", "port": 1, "http_port": 2},
        },
    )
    assert r.status_code == 400 and "disagree" in r.json()["error"]


def test_non_utf8_names_are_listed_and_served(api, site):
    """A name holding U+FFFD (how invalid UTF-8 arrives) lists and downloads correctly."""
    _, url, base = site
    assert api.put(f"/files?path={base}/bad%FF.txt", content=b"odd").status_code == 200
    page = LinkParser()
    page.feed(httpx.get(url + "/").text)
    link = next(ln for ln in page.links if ln.startswith("/bad"))
    assert httpx.get(url + link).content == b"odd"
    assert httpx.get(url + "/bad%FF.txt").content == b"odd"


def test_config_file_mount(tmp_path):
    """httpfs mounted from the YAML config serves another config-file mount."""
    port = free_port()
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "httpfs": {
                "enabled": True,
                "path": "/web",
                "config": {"pfs_path": "/memfs", "port": port},
            },
        }
    }
    with ServerProcess(config) as server:
        httpx.put(server.api + "/files", params={"path": "/memfs/x.txt"}, content=b"x")
        assert httpx.get(f"http://127.0.0.1:{port}/x.txt").content == b"x"


def _mount_httpfs(api, config: dict) -> tuple[str, str]:
    """Mount httpfs on a free port with ``config``; (mount path, base URL)."""
    port = free_port()
    mount = f"/web-{port}"
    r = api.post(
        "/mount", json={"fstype": "httpfs", "path": mount, "config": {**config, "port": port}}
    )
    assert r.status_code == 200, r.text
    return mount, f"http://127.0.0.1:{port}"


def _reuseport_listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("holder", ["reuseport socket", "pfs-server"])
def test_port_held_by_anyone_fails_the_mount(api, server, holder):
    """Whoever listens on the port, even with SO_REUSEPORT (Granian does), the mount is a 409."""
    with _reuseport_listener() as sock:
        port = server.port if holder == "pfs-server" else sock.getsockname()[1]
        r = api.post(
            "/mount",
            json={
                "fstype": "httpfs",
                "path": "/held",
                "config": {"pfs_path": "/memfs", "port": port},
            },
        )
    assert r.status_code == 409, r.text
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in r.json()["error"]


def test_no_socket_can_join_a_mounted_port(api):
    mount, url = _mount_httpfs(api, {"pfs_path": "/memfs"})
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as joiner:
        joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with pytest.raises(OSError):
            joiner.bind(("127.0.0.1", port))
    api.post("/unmount", json={"path": mount})


def test_bearer_token(api):
    """With ``token`` every request needs ``Authorization: Bearer <token>``; others get 401."""
    api.put("/files", params={"path": "/memfs/secret.txt"}, content=b"classified")
    mount, url = _mount_httpfs(api, {"pfs_path": "/memfs", "token": "s3cret"})
    for method in ("GET", "HEAD"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0"}):
            r = httpx.request(method, url + "/secret.txt", headers=headers)
            assert r.status_code == 401, (method, headers)
            assert b"classified" not in r.content
            assert r.headers["www-authenticate"] == 'Bearer realm="httpfs"'
    good = {"Authorization": "Bearer s3cret"}
    assert httpx.get(url + "/secret.txt", headers=good).content == b"classified"
    assert httpx.get(url + "/", headers=good).status_code == 200
    status = api.get("/files", params={"path": mount}).text
    assert "HTTP Auth:       bearer token\n" in status and "s3cret" not in status
    api.post("/unmount", json={"path": mount})


def test_basic_auth_and_either_form(api):
    """basic_user + basic_password is HTTP basic auth; with a token too, either one is accepted."""
    api.put("/files", params={"path": "/memfs/secret.txt"}, content=b"classified")
    mount, url = _mount_httpfs(
        api, {"pfs_path": "/memfs", "basic_user": "alice", "basic_password": "pässword"}
    )
    denied = httpx.get(url + "/secret.txt", auth=("alice", "wrong"))
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == 'Basic realm="httpfs", charset="UTF-8"'
    assert httpx.get(url + "/secret.txt", auth=("bob", "pässword")).status_code == 401
    assert httpx.get(url + "/secret.txt", auth=("alice", "pässword")).content == b"classified"
    api.post("/unmount", json={"path": mount})
    mount, url = _mount_httpfs(
        api, {"pfs_path": "/memfs", "token": "t", "basic_user": "alice", "basic_password": "pw"}
    )
    denied = httpx.get(url + "/secret.txt")
    assert denied.headers.get_list("www-authenticate") == [
        'Bearer realm="httpfs"',
        'Basic realm="httpfs", charset="UTF-8"',
    ]
    assert httpx.get(url + "/secret.txt", auth=("alice", "pw")).status_code == 200
    assert httpx.get(url + "/secret.txt", headers={"Authorization": "bearer t"}).status_code == 200
    api.post("/unmount", json={"path": mount})


def test_token_from_the_environment(start_server):
    proc = start_server(
        {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}},
        env={"HTTPFS_TEST_TOKEN": "from-env"},
    )
    with httpx.Client(base_url=proc.api) as api:
        api.put("/files", params={"path": "/memfs/x.txt"}, content=b"x")
        _, url = _mount_httpfs(api, {"pfs_path": "/memfs", "token_env": "HTTPFS_TEST_TOKEN"})
        assert httpx.get(url + "/x.txt").status_code == 401
        assert (
            httpx.get(url + "/x.txt", headers={"Authorization": "Bearer from-env"}).content == b"x"
        )


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {"token_env": "HTTPFS_NO_SUCH_VARIABLE"},
            "environment variable HTTPFS_NO_SUCH_VARIABLE is empty",
        ),
        ({"token": "a", "token_env": "B"}, "give token or token_env, not both"),
        ({"basic_user": "alice"}, "basic_user and basic_password go together"),
        ({"basic_password": "pw"}, "basic_user and basic_password go together"),
        ({"basic_user": "a:b", "basic_password": "pw"}, "without ':'"),
    ],
)
def test_bad_auth_config(api, config, message):
    port = free_port()
    r = api.post(
        "/mount",
        json={
            "fstype": "httpfs",
            "path": "/bad-auth",
            "config": {"pfs_path": "/memfs", "port": port, **config},
        },
    )
    assert r.status_code == 400 and message in r.json()["error"], r.text
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_no_auth_is_stated_in_the_status_file(api, site):
    mount, url, _ = site
    status = api.get("/files", params={"path": mount}).text
    assert "HTTP Auth:       none (anyone who can reach it reads the files)\n" in status
    assert httpx.get(url + "/README").status_code == 200


@pytest.fixture
def queue_and_stream(api):
    """queuefs and streamfs mounted at fresh paths: a queue holding 2 messages, a live stream."""
    port = free_port()
    queues, streams = f"/queues-{port}", f"/streams-{port}"
    for fstype, path in (("queuefs", queues), ("streamfs", streams)):
        assert api.post("/mount", json={"fstype": fstype, "path": path}).status_code == 200
    api.post("/directories", params={"path": f"{queues}/jobs"})
    for message in ("one", "two"):
        api.put("/files", params={"path": f"{queues}/jobs/enqueue"}, content=message)
    api.put("/files", params={"path": f"{streams}/live"}, content=b"chunk")
    yield queues, streams
    for path in (queues, streams):
        api.post("/unmount", json={"path": path})


def test_files_whose_read_has_an_effect_are_never_served(api, queue_and_stream):
    """GET/HEAD (ranged too) of a queue's dequeue is 403 and the queue keeps both messages; the
    listing shows dequeue without a link; a live stream is 403 instead of an endless answer."""
    queues, streams = queue_and_stream

    def size() -> int:
        return int(api.get("/files", params={"path": f"{queues}/jobs/size"}).text)

    mount, url = _mount_httpfs(api, {"pfs_path": queues})
    for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-3"})):
        r = httpx.request(method, url + "/jobs/dequeue", headers=headers, timeout=10)
        assert r.status_code == 403, (method, headers)
        assert b"one" not in r.content
    assert "has an effect (consumes)" in httpx.get(url + "/jobs/dequeue").text
    listing = httpx.get(url + "/jobs/")
    assert listing.status_code == 200
    page = LinkParser()
    page.feed(listing.text)
    assert "/jobs/dequeue" not in page.links and "/jobs/peek" in page.links
    assert ">dequeue</td>" in listing.text
    assert httpx.get(url + "/jobs/peek").json()["data"] == "one"
    assert size() == 2
    api.post("/unmount", json={"path": mount})

    mount, url = _mount_httpfs(api, {"pfs_path": streams})
    r = httpx.get(url + "/live", timeout=10)
    assert r.status_code == 403 and "has an effect (endless)" in r.text
    api.post("/unmount", json={"path": mount})
    assert size() == 2
