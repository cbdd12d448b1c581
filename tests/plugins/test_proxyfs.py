"""proxyfs: federation of real pfs-servers over loopback."""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable

import httpx
import pytest

from pfs.client import Client
from pfs.testing.fixtures import server_fixture
from pfs.testing.server import ServerProcess, free_port

MEMFS = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}


remote_a = server_fixture(MEMFS)


remote_b = server_fixture(MEMFS)


@pytest.fixture(scope="module")
def front(remote_a, remote_b):
    """A server with /remote/a and /remote/b proxying the two remotes' whole namespaces."""
    with ServerProcess(MEMFS) as server:
        for name, remote in (("a", remote_a), ("b", remote_b)):
            r = httpx.post(
                server.api + "/mount",
                json={
                    "fstype": "proxyfs",
                    "path": f"/remote/{name}",
                    "config": {"base_url": remote.url + "/"},
                },
            )
            assert r.status_code == 200, r.text
        yield server


@pytest.fixture
def api(front):
    with httpx.Client(base_url=front.api, timeout=60) as client:
        yield client


def test_every_operation_passes_through(api, remote_a):
    """Each operation through /remote/a lands on the remote exactly as if done there."""
    direct = remote_a.client()
    assert (
        api.post("/directories", params={"path": "/remote/a/memfs/ops", "mode": "700"}).status_code
        == 201
    )
    assert direct.get("/stat", params={"path": "/memfs/ops"}).json()["mode"] == 0o700
    assert api.post("/files", params={"path": "/remote/a/memfs/ops/empty"}).status_code == 201
    api.put("/files", params={"path": "/remote/a/memfs/ops/f.txt"}, content=b"hello world")
    assert direct.get("/files", params={"path": "/memfs/ops/f.txt"}).content == b"hello world"
    r = api.get("/files", params={"path": "/remote/a/memfs/ops/f.txt", "offset": 6, "size": 3})
    assert r.content == b"wor"
    r = api.put(
        "/files", params={"path": "/remote/a/memfs/ops/f.txt", "flags": "append"}, content=b"!"
    )
    assert r.status_code == 200
    assert direct.get("/files", params={"path": "/memfs/ops/f.txt"}).content == b"hello world!"
    stat = api.get("/stat", params={"path": "/remote/a/memfs/ops/f.txt"}).json()
    assert stat["size"] == 12
    assert stat["meta"]["Content"]["remote-url"] == remote_a.url + "/api/v1"
    listing = api.get("/directories", params={"path": "/remote/a/memfs/ops"}).json()["files"]
    assert sorted(f["name"] for f in listing) == ["empty", "f.txt"]
    r = api.post(
        "/rename",
        params={"path": "/remote/a/memfs/ops/f.txt"},
        json={"newPath": "/remote/a/memfs/ops/g.txt"},
    )
    assert r.status_code == 200
    assert (
        api.post(
            "/chmod", params={"path": "/remote/a/memfs/ops/g.txt"}, json={"mode": 0o600}
        ).status_code
        == 200
    )
    assert direct.get("/stat", params={"path": "/memfs/ops/g.txt"}).json()["mode"] == 0o600
    assert api.delete("/files", params={"path": "/remote/a/memfs/ops/empty"}).status_code == 200
    r = api.delete("/files", params={"path": "/remote/a/memfs/ops", "recursive": "true"})
    assert r.status_code == 200
    assert direct.get("/stat", params={"path": "/memfs/ops"}).status_code == 404
    direct.close()


def test_remote_errors_keep_status_and_message(api, remote_a):
    """A remote error arrives with the remote's own status and wording, naming the local path."""
    direct = remote_a.client()
    direct.post("/directories", params={"path": "/memfs/errs"})
    for method, endpoint, params in (
        ("GET", "/files", {"path": "/memfs/errs/missing"}),
        ("POST", "/directories", {"path": "/memfs/errs"}),
        ("GET", "/files", {"path": "/memfs/errs"}),
        ("POST", "/files", {"path": "/memfs/nodir/x"}),
    ):
        want = direct.request(method, endpoint, params=params)
        local = "/remote/a" + params["path"]
        got = api.request(method, endpoint, params={"path": local})
        want_error = want.json()["error"].replace(params["path"], local)
        assert (got.status_code, got.json()) == (want.status_code, {"error": want_error}), params
    direct.close()


def test_federated_copy_streams_between_remotes(front, remote_a, remote_b):
    """A 40 MiB file copied /remote/a → /remote/b arrives intact; the front server buffers none."""
    data = os.urandom(40 << 20)
    httpx.put(remote_a.api + "/files", params={"path": "/memfs/big.bin"}, content=data, timeout=60)
    with open(f"/proc/{front.worker_pid()}/status") as status:
        before = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) * 1024
    with Client(front.url, timeout=60) as client:
        copied = client.copy("/remote/a/memfs/big.bin", "/remote/b/memfs/big.bin")
    assert copied == len(data)
    with open(f"/proc/{front.worker_pid()}/status") as status:
        after = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")) * 1024
    assert after - before < 20 << 20, f"front server peak grew {(after - before) >> 20} MiB"
    got = httpx.get(remote_b.api + "/files", params={"path": "/memfs/big.bin"}, timeout=60)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    with httpx.stream(
        "GET",
        front.api + "/files",
        timeout=60,
        params={"path": "/remote/b/memfs/big.bin", "stream": "true"},
    ) as r:
        assert r.status_code == 200
        assert sum(len(c) for c in r.iter_bytes()) == len(data)
    httpx.delete(remote_a.api + "/files", params={"path": "/memfs/big.bin"})
    httpx.delete(remote_b.api + "/files", params={"path": "/memfs/big.bin"})


def test_reload_control_file(api, remote_a):
    """/reload reads its hint, reconnects on write, and is listed at the proxy root."""
    r = api.get("/files", params={"path": "/remote/a/reload"})
    assert r.content == b"Write to this file to reload the proxy connection\n"
    r = api.put("/files", params={"path": "/remote/a/reload"}, content=b"")
    assert r.json() == {"message": "ProxyFS reloaded successfully"}
    stat = api.get("/stat", params={"path": "/remote/a/reload"}).json()
    assert stat["mode"] == 0o200 and stat["meta"]["Type"] == "control"
    assert stat["meta"]["Content"]["remote-url"] == remote_a.url + "/api/v1"
    names = [
        f["name"] for f in api.get("/directories", params={"path": "/remote/a"}).json()["files"]
    ]
    assert "reload" in names and "memfs" in names
    assert api.get("/files", params={"path": "/remote/a/memfs/README"}).status_code == 200


def test_remote_down_is_a_clear_503(start_server):
    """A remote that stops answers 503 naming it; mounting a dead remote fails the same way."""
    remote = start_server(MEMFS)
    front = start_server(MEMFS)
    api = front.client(timeout=30)
    r = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/r", "config": {"base_url": remote.url}}
    )
    assert r.status_code == 200, r.text
    remote.stop()
    r = api.get("/files", params={"path": "/r/memfs/README"})
    assert r.status_code == 503
    assert remote.url in r.json()["error"]
    r = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/dead", "config": {"base_url": remote.url}}
    )
    assert r.status_code == 503
    assert f"failed to connect to remote PFS server at {remote.url}" in r.json()["error"]
    r = api.put("/files", params={"path": "/r/reload"}, content=b"")
    assert r.status_code == 503 and r.json()["error"].startswith("/r/reload: reload failed:")
    api.close()


def test_hung_remote_times_out(start_server):
    """A remote that accepts connections but never answers is a 504 after `timeout`, not a hang."""
    remote = start_server(MEMFS)
    front = start_server(MEMFS)
    api = front.client(timeout=30)
    r = api.post(
        "/mount",
        json={"fstype": "proxyfs", "path": "/r", "config": {"base_url": remote.url, "timeout": 1}},
    )
    assert r.status_code == 200
    remote.stop()
    with socket.socket() as silent:  # the kernel completes handshakes; nobody ever replies
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", remote.port))
        silent.listen(16)
        r = api.get("/stat", params={"path": "/r/memfs"})
        assert r.status_code == 504
        assert remote.url in r.json()["error"]
        r = api.get("/files", params={"path": "/r/memfs/README"})
        assert r.status_code == 504
    api.close()


def test_bad_config(api):
    """Missing or malformed base_url and unknown keys are 400."""
    r = api.post("/mount", json={"fstype": "proxyfs", "path": "/p", "config": {}})
    assert r.status_code == 400 and "base_url is required" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "proxyfs", "path": "/p", "config": {"base_url": "nope"}})
    assert r.status_code == 400 and "invalid base_url format" in r.json()["error"]
    r = api.post(
        "/mount",
        json={
            "fstype": "proxyfs",
            "path": "/p",
            "config": {"base_url": f"http://127.0.0.1:{free_port()}", "remote_path": "/x"},
        },
    )
    assert r.status_code == 400 and "'remote_path'" in r.json()["error"]


def test_non_utf8_name_through_proxy(api, remote_a):
    """A name with invalid UTF-8 arrives on the remote in its replacement form and reads back."""
    assert api.put("/files?path=/remote/a/memfs/bad%FF", content=b"odd").status_code == 200
    r = httpx.get(remote_a.api + "/files", params={"path": "/memfs/bad\ufffd"})
    assert r.content == b"odd"
    assert api.get("/files?path=/remote/a/memfs/bad%FF").content == b"odd"


# -- credentials and untrusted URLs ----------------------------------------------------------

REMOTE_TOKEN = "remote-secret"
HEALTHY = b'{"status":"healthy"}'


class RawServer(socketserver.ThreadingTCPServer):
    """A loopback TCP server (``.url``) running ``handle`` on each connection in a thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handle: Callable[[socket.socket], None], port: int = 0) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                handle(self.request)

        super().__init__(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        super().__exit__(*exc)


def read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and (data := conn.recv(65536)):
        head += data
    return head


def answer_health(heads: list[bytes]) -> Callable[[socket.socket], None]:
    """Records each request's head and answers it as a healthy PFS server would."""

    def handle(conn: socket.socket) -> None:
        heads.append(read_head(conn))
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(HEALTHY), HEALTHY)
        )

    return handle


def reset(conn: socket.socket) -> None:
    read_head(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def not_http(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def not_pfs(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")


def mount_proxy(front, path: str, config: dict) -> httpx.Response:
    return httpx.post(
        front.api + "/mount",
        json={"fstype": "proxyfs", "path": path, "config": config},
        timeout=60,
    )


def test_remote_token_comes_only_from_the_mount_config(start_server):
    """A remote that needs a token: a mount without one is refused by the remote even though the
    front server's environment holds a valid PFS_TOKEN; ``token`` and ``token_env`` work."""
    remote = start_server(
        {**MEMFS, "server": {"auth": {"tokens": [{"token": REMOTE_TOKEN, "role": "write"}]}}}
    )
    front = start_server(MEMFS, env={"PFS_TOKEN": REMOTE_TOKEN, "REMOTE_TOKEN": REMOTE_TOKEN})
    assert mount_proxy(front, "/plain", {"base_url": remote.url}).status_code == 200
    r = httpx.get(front.api + "/directories", params={"path": "/plain/memfs"})
    assert r.status_code == 403 and "authentication required" in r.json()["error"]

    assert (
        mount_proxy(front, "/tok", {"base_url": remote.url, "token": REMOTE_TOKEN}).status_code
        == 200
    )
    r = httpx.put(front.api + "/files", params={"path": "/tok/memfs/f"}, content=b"via token")
    assert r.status_code == 200, r.text
    r = mount_proxy(front, "/env", {"base_url": remote.url, "token_env": "REMOTE_TOKEN"})
    assert r.status_code == 200, r.text
    assert httpx.get(front.api + "/files", params={"path": "/env/memfs/f"}).content == b"via token"

    r = mount_proxy(front, "/unset", {"base_url": remote.url, "token_env": "NO_SUCH_VARIABLE"})
    assert r.status_code == 400
    assert "environment variable NO_SUCH_VARIABLE is not set or empty" in r.json()["error"]
    both = {"base_url": remote.url, "token": REMOTE_TOKEN, "token_env": "REMOTE_TOKEN"}
    r = mount_proxy(front, "/both", both)
    assert r.status_code == 400 and "either token or token_env" in r.json()["error"]
    r = mount_proxy(front, "/crlf", {"base_url": remote.url, "token": "x\r\nX-Evil: 1"})
    assert r.status_code == 400 and "printable ASCII" in r.json()["error"]


def test_no_credential_is_sent_that_the_mount_did_not_name(start_server):
    """The front server has PFS_TOKEN in its environment; what a listening socket receives:
    no Authorization header from a mount without a token, exactly the mount's own token else."""
    front = start_server(MEMFS, env={"PFS_TOKEN": "the-servers-own-secret"})
    heads: list[bytes] = []
    with RawServer(answer_health(heads)) as listener:
        assert mount_proxy(front, "/bare", {"base_url": listener.url}).status_code == 200
        assert len(heads) == 1 and heads[0].startswith(b"GET /api/v1/health HTTP/1.1\r\n")
        assert b"authorization" not in heads[0].lower()
        assert b"the-servers-own-secret" not in heads[0]
        r = mount_proxy(front, "/tok", {"base_url": listener.url, "token": "mount-token"})
        assert r.status_code == 200
        assert b"\r\nAuthorization: Bearer mount-token\r\n" in heads[1]
        assert b"the-servers-own-secret" not in heads[1]


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("ftp://127.0.0.1:21", "the scheme must be http or https"),
        ("file:///etc/passwd", "the scheme must be http or https"),
        ("http://", "it has no host"),
        ("http://:8080", "it has no host"),
        ("http://127.0.0.1:8080/?x=1", "a query or fragment is not allowed"),
        ("http://127.0.0.1:8080/api/v1#top", "a query or fragment is not allowed"),
        ("http://127.0.0.1:99999", "the host or port is invalid"),
        ("http://127.0.0.1:0", "the host or port is invalid"),
        ("http://127.0.0.1:8080/a b", "spaces, control or non-ASCII characters"),
        ("http://127.0.0.1:8080/a\r\nX-Evil: 1", "spaces, control or non-ASCII characters"),
    ],
)
def test_base_url_names_only_a_server(api, base_url, problem):
    """A base_url that is not plain http(s)://host[:port][/path] is 400 saying why."""
    r = api.post(
        "/mount", json={"fstype": "proxyfs", "path": "/p", "config": {"base_url": base_url}}
    )
    assert r.status_code == 400 and problem in r.json()["error"], r.text
    assert "/p" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


def test_base_url_with_credentials_is_refused_without_echoing_them(api):
    r = api.post(
        "/mount",
        json={
            "fstype": "proxyfs",
            "path": "/p",
            "config": {"base_url": "http://admin:hunter2@127.0.0.1:8080"},
        },
    )
    assert r.status_code == 400
    assert "credentials in the URL are not allowed" in r.json()["error"]
    assert "hunter2" not in r.text


def test_every_connection_failure_reads_the_same(start_server):
    """Refused, reset, not HTTP, HTTP but not PFS, TLS refused, name not resolved: each mount
    is 503 with one message but for the URL, so errors do not tell open ports from closed ones;
    after mounting, a refused and a reset remote read the same too."""
    front = start_server(MEMFS)
    with RawServer(reset) as resets, RawServer(not_http) as ssh, RawServer(not_pfs) as web:
        targets = [
            f"http://127.0.0.1:{free_port()}",
            resets.url,
            ssh.url,
            web.url,
            f"https://127.0.0.1:{front.port}",
            "http://no-such-host.invalid:8080",
        ]
        answers = {
            url: mount_proxy(front, "/x", {"base_url": url, "timeout": 5}) for url in targets
        }
    for url, r in answers.items():
        assert r.status_code == 503, (url, r.text)
        assert r.json()["error"].endswith(
            f"failed to connect to remote PFS server at {url}: cannot connect"
        ), r.text
    assert len({r.json()["error"].replace(url, "URL") for url, r in answers.items()}) == 1

    remote = start_server(MEMFS)
    assert mount_proxy(front, "/r", {"base_url": remote.url}).status_code == 200
    remote.stop()
    refused = httpx.get(front.api + "/stat", params={"path": "/r/memfs"})
    with RawServer(reset, port=remote.port):
        was_reset = httpx.get(front.api + "/stat", params={"path": "/r/memfs"})
    for r in (refused, was_reset):
        assert r.status_code == 503
        assert r.json()["error"].endswith(f"remote PFS server {remote.url}: cannot connect")
