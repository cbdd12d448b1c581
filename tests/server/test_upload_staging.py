"""An abandoned upload leaves the old file untouched in every write mode: offset and append
bodies are staged (memory, then a temporary file) and applied only once complete; replacements
swap in their new content only at the end."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pfs.testing.server import ServerProcess

MOUNTS = ["/memfs", "/local", "/kvfs/keys", "/sqlfs"]
BODY = 2 << 20  # announced
SENT = 1100 << 10  # sent before the client walks away (past the 1 MiB kept in memory)
ORIGINAL = b"original content\n" * 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staging")
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "kvfs": {"enabled": True, "path": "/kvfs"},
            "sqlfs": {"enabled": True, "path": "/sqlfs", "config": {"db_path": str(tmp / "s.db")}},
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(tmp)}},
        },
    }
    with ServerProcess(config) as proc:
        yield proc


def _slug(query: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in query)


def abandon_upload(server: ServerProcess, path: str, query: str) -> None:
    """Announce a 2 MB body, send 1.1 MB of it, and close the connection."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            f"PUT /api/v1/files?path={path}{query} HTTP/1.1\r\nHost: pfs\r\n"
            f"Content-Length: {BODY}\r\n\r\n".encode()
        )
        sock.sendall(b"N" * SENT)


def settled_content(api: httpx.Client, path: str) -> bytes | None:
    """The file's content once the server has finished with the abandoned request (its size
    stays the same over a few polls); None when it does not exist."""
    last = None
    steady = 0
    for _ in range(50):
        r = api.get("/stat", params={"path": path})
        size = r.json()["size"] if r.status_code == 200 else None
        steady = steady + 1 if size == last else 0
        if steady == 3:
            break
        last = size
        time.sleep(0.1)
    r = api.get("/files", params={"path": path})
    return r.content if r.status_code == 200 else None


@pytest.mark.parametrize("mount", MOUNTS)
@pytest.mark.parametrize("query", ["&flags=append", "&offset=100", "&offset=100&flags=truncate"])
def test_abandoned_in_place_upload_leaves_the_file_untouched(server, api, mount, query):
    """Before: 1.1 MB of an aborted 2 MB append landed in memfs and localfs files."""
    path = f"{mount}/kept{_slug(query)}"
    api.put("/files", params={"path": path}, content=ORIGINAL)
    abandon_upload(server, path, query)
    assert settled_content(api, path) == ORIGINAL


@pytest.mark.parametrize("mount", MOUNTS)
@pytest.mark.parametrize("query", ["", "&flags=create,append", "&offset=5"])
def test_abandoned_upload_to_a_new_path_creates_nothing(server, api, mount, query):
    """Before: memfs created the empty file before the body arrived, and kept it."""
    path = f"{mount}/never{_slug(query)}"
    abandon_upload(server, path, query)
    assert settled_content(api, path) is None


@pytest.mark.parametrize("mount", ["/memfs", "/local"])
def test_completed_staged_uploads_apply(api, mount):
    """Bodies past the in-memory share go through the temporary file and arrive whole."""
    path = f"{mount}/grown"
    big = bytes(range(256)) * (12 << 10)  # 3 MiB
    api.put("/files", params={"path": path}, content=b"0123456789")
    r = api.put("/files", params={"path": path, "flags": "append"}, content=iter([big]))
    assert r.status_code == 200
    r = api.put("/files", params={"path": path, "offset": 4}, content=iter([b"ab", b"cd"]))
    assert r.status_code == 200
    assert api.get("/files", params={"path": path}).content == b"0123abcd89" + big
