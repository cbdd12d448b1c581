"""Without auth, admin operations are accepted only from the server's own user on this machine.

The other user is a real one (a system account created for the test): a forked child drops to its
uid before opening the connection, so the kernel lists the peer socket as that user's.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import socket
import subprocess

import httpx
import pytest

from pfs.client import Client
from pfs.server.peer_owner import tcp_peer_uid
from pfs.testing.fixtures import MEMFS_ONLY

PEER_USER = "pfs-test-peer"
ADMIN_TOKEN = "admin-secret"


@pytest.fixture(scope="module")
def peer_user() -> pwd.struct_passwd:
    """An unprivileged local user (created when missing; the tests run as root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second local user")
    try:
        return pwd.getpwnam(PEER_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            pytest.skip("useradd is not installed")
        subprocess.run(
            [useradd, "-r", "-M", "-s", "/usr/sbin/nologin", PEER_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PEER_USER)


def post_as(user: pwd.struct_passwd, url: str, endpoint: str, body: dict, token: str = ""):
    """POST ``body`` to ``url`` + ``endpoint`` from a process running as ``user``;
    (status, JSON answer)."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only what is already imported, no file access as the other user
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("POST", "/api/v1" + endpoint, json.dumps(body), headers)
            answer = conn.getresponse()
            os.write(write_end, json.dumps([answer.status, answer.read().decode()]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = pipe.read()
    os.waitpid(pid, 0)
    assert result, "the child running as the other user failed"
    status, text = json.loads(result)
    return status, json.loads(text)


def mounted(server) -> set[str]:
    """The mount paths besides /dev (devfs, on every server)."""
    mounts = httpx.get(server.api + "/mounts").json()["mounts"] or []
    return {m["path"] for m in mounts} - {"/dev"}


def test_other_local_user_cannot_mount(start_server, peer_user, tmp_path):
    """Default config, no auth: another local user's POST /mount (localfs over a root-only
    directory) is 403 saying how to configure auth, and nothing is mounted; unmount and plugin
    loading are refused the same way. The same mount from the server's own user (root) is 200."""
    secret = tmp_path / "secret"
    secret.write_text("root only")
    secret.chmod(0o600)
    server = start_server(MEMFS_ONLY)
    mount = {"fstype": "localfs", "path": "/stolen", "config": {"local_dir": str(tmp_path)}}

    status, answer = post_as(peer_user, server.url, "/mount", mount)
    assert status == 403
    assert f"this connection's user is uid {peer_user.pw_uid}" in answer["error"]
    assert "server.auth.tokens" in answer["error"]
    assert "server.admin_without_auth" in answer["error"]
    assert mounted(server) == {"/memfs"}
    status, _ = post_as(peer_user, server.url, "/unmount", {"path": "/memfs"})
    assert status == 403 and mounted(server) == {"/memfs"}
    status, _ = post_as(peer_user, server.url, "/plugins/load", {"library_path": "/x.so"})
    assert status == 403

    r = httpx.post(server.api + "/mount", json=mount)
    assert r.status_code == 200, r.text
    r = httpx.get(server.api + "/files", params={"path": "/stolen/secret"})
    assert r.content == b"root only"


def test_other_local_user_keeps_file_access(start_server, peer_user):
    """Only admin operations are limited: file reads and writes stay open without auth."""
    server = start_server(MEMFS_ONLY)
    status, answer = post_as(peer_user, server.url, "/files?path=/memfs/by-peer", {})
    assert (status, answer) == (201, {"message": "file created"})


def test_original_clients_without_token_work_for_the_owner(start_server):
    """The original's clients send POST /mount and /unmount with no Authorization header: from
    the server's own user they work unchanged (raw request shape and the SDK)."""
    server = start_server(MEMFS_ONLY)
    r = httpx.post(
        server.api + "/mount",
        json={"fstype": "kvfs", "path": "/kv", "config": {}},
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {"message": "plugin mounted"}
    with Client(server.url) as client:
        client.mount("memfs", "/scratch", {})
        assert {"/kv", "/scratch"} <= mounted(server)
        client.unmount("/scratch")
    r = httpx.post(server.api + "/unmount", json={"path": "/kv"})
    assert r.status_code == 200 and mounted(server) == {"/memfs"}


def test_admin_without_auth_local_accepts_every_local_user(start_server, peer_user):
    """server.admin_without_auth: local relaxes the check to any loopback peer."""
    server = start_server({**MEMFS_ONLY, "server": {"admin_without_auth": "local"}})
    status, answer = post_as(peer_user, server.url, "/mount", {"fstype": "memfs", "path": "/p"})
    assert (status, answer) == (200, {"message": "plugin mounted"})


def test_with_auth_tokens_decide(start_server, peer_user):
    """With tokens configured the peer's user does not matter: an admin token mounts from any
    user, no token is 401 even for the server's own user."""
    config = {
        **MEMFS_ONLY,
        "server": {"auth": {"tokens": [{"token": ADMIN_TOKEN, "role": "admin"}]}},
    }
    server = start_server(config)
    mount = {"fstype": "memfs", "path": "/p"}
    assert post_as(peer_user, server.url, "/mount", mount, ADMIN_TOKEN)[0] == 200
    assert httpx.post(server.api + "/unmount", json={"path": "/p"}).status_code == 401


def test_bad_admin_without_auth_stops_the_server(start_server):
    server = start_server({"server": {"admin_without_auth": "everyone"}}, wait=False)
    assert server.proc.wait(30) == 2
    assert "server.admin_without_auth: must be one of owner, local, anyone" in server.log()


@pytest.mark.parametrize(
    ("family", "listen", "connect"),
    [
        (socket.AF_INET, "127.0.0.1", "127.0.0.1"),
        (socket.AF_INET6, "::1", "::1"),
        (socket.AF_INET6, "::", "127.0.0.1"),  # dual-stack server: the peer is ::ffff:127.0.0.1
    ],
)
def test_tcp_peer_uid_finds_the_connecting_socket(family, listen, connect):
    """The kernel's socket tables name this process's user as the owner of its own connection,
    in each address form a server sees."""
    listener = socket.socket(family)
    with listener:
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, listen != "::")
        try:
            listener.bind((listen, 0))
        except OSError:
            pytest.skip(f"no {listen} on this machine")
        listener.listen(1)
        server_port = listener.getsockname()[1]
        with socket.create_connection((connect, server_port)):
            accepted, peer = listener.accept()
            with accepted:
                assert tcp_peer_uid(peer[0], peer[1], server_port) == os.geteuid()
                assert tcp_peer_uid(peer[0], peer[1], server_port + 1) is None
