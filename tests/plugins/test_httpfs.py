"""httpfs: real HTTP servers started by mounts of a real pfs-server."""

from __future__ import annotations

import os
import re
import socket
from html.parser import HTMLParser

import httpx
import pytest

from pfs.testing.server import ServerProcess, free_port


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
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


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
    whole = httpx.get(url + "/big.bin")
    assert whole.status_code == 200 and whole.content == data


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
    assert r.json()["error"] == (
        "httpfs is read-only via filesystem interface, use HTTP to access files"
    )


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
