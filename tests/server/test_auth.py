"""Bearer-token auth: 401 without a valid token, 403 for a role too weak, health always open."""

from __future__ import annotations

import httpx
import pytest

TOKENS = {"read": "r-token", "write": "w-token", "admin": "a-token"}


@pytest.fixture(scope="module")
def auth_server():
    from pfs.testing.server import ServerProcess

    config = {
        "server": {
            "auth": {
                "tokens": [
                    {"token": TOKENS["read"], "role": "read"},
                    {"token_env": "PFS_TEST_WRITE_TOKEN", "role": "write"},
                    {"token": TOKENS["admin"], "role": "admin"},
                ]
            }
        },
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    }
    with ServerProcess(config, env={"PFS_TEST_WRITE_TOKEN": TOKENS["write"]}) as proc:
        yield proc


def client(server, role=None):
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
    return server.client(headers=headers)


def test_health_needs_no_token(auth_server):
    assert client(auth_server).get("/health").status_code == 200


def test_no_or_bad_token_is_401(auth_server):
    r = client(auth_server).get("/directories", params={"path": "/"})
    assert r.status_code == 401 and "authentication required" in r.json()["error"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(
        auth_server.api + "/stat", params={"path": "/"}, headers={"Authorization": "Bearer wrong"}
    )
    assert r.status_code == 401 and r.json() == {"error": "invalid token"}
    r = httpx.get(
        auth_server.api + "/stat", params={"path": "/"}, headers={"Authorization": "Basic abc"}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "url", "params", "body", "allowed"),
    [
        ("read", "GET", "/directories", {"path": "/memfs"}, None, True),
        (
            "read",
            "POST",
            "/grep",
            None,
            {"path": "/memfs", "pattern": "x", "recursive": True},
            True,
        ),
        ("read", "PUT", "/files", {"path": "/memfs/f"}, b"x", False),
        ("read", "POST", "/mount", None, {"fstype": "memfs", "path": "/x"}, False),
        ("write", "PUT", "/files", {"path": "/memfs/f"}, b"x", True),
        ("write", "DELETE", "/files", {"path": "/memfs/f"}, None, True),
        ("write", "POST", "/mount", None, {"fstype": "memfs", "path": "/x"}, False),
        ("write", "POST", "/plugins/load", None, {"library_path": "/x.so"}, False),
        ("admin", "POST", "/mount", None, {"fstype": "memfs", "path": "/x"}, True),
        ("admin", "POST", "/unmount", None, {"path": "/x"}, True),
    ],
)
def test_roles(auth_server, role, method, url, params, body, allowed):
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = client(auth_server, role).request(method, url, params=params, **kwargs)
    if allowed:
        assert r.status_code < 400, r.text
    else:
        assert r.status_code == 403
        assert r.json()["error"].startswith(f"permission denied: role '{role}'")
