"""POST /symlink and GET /readlink, and how every operation follows links: through the mount
table's own table (memfs, the root, across mounts) and localfs's real, persistent symlinks,
which never lead out of local_dir."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from pfs.testing.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("links")
    (base / "local").mkdir()
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "kvfs": {"enabled": True, "path": "/kvfs"},
            "localfs": {
                "enabled": True,
                "path": "/local",
                "config": {"local_dir": str(base / "local")},
            },
        }
    }
    with ServerProcess(config) as proc:
        proc.local_dir = base / "local"
        proc.config = config
        yield proc


def symlink(api: httpx.Client, link: str, target: str) -> httpx.Response:
    return api.post("/symlink", params={"path": link}, json={"target": target})


def put(api: httpx.Client, path: str, data: bytes) -> None:
    response = api.put("/files", params={"path": path}, content=data)
    assert response.status_code == 200, response.text


def read(api: httpx.Client, path: str) -> httpx.Response:
    return api.get("/files", params={"path": path})


def stat(api: httpx.Client, path: str) -> dict:
    response = api.get("/stat", params={"path": path})
    assert response.status_code == 200, response.text
    return response.json()


def listing(api: httpx.Client, path: str) -> dict[str, dict]:
    response = api.get("/directories", params={"path": path})
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()["files"] or []}


@pytest.fixture
def tree(api, request):
    """A fresh directory in memfs with a file and a subdirectory."""
    root = f"/memfs/{request.node.name[:40]}"
    api.post("/directories", params={"path": root})
    api.post("/directories", params={"path": f"{root}/dir"})
    put(api, f"{root}/dir/file.txt", b"content")
    yield root
    api.delete("/files", params={"path": root, "recursive": "true"})


def test_a_link_to_a_file_reads_and_writes_the_target(api, tree):
    response = symlink(api, f"{tree}/link", f"{tree}/dir/file.txt")
    assert response.status_code == 201, response.text
    assert response.json() == {"message": "symlink created"}
    assert read(api, f"{tree}/link").content == b"content"
    put(api, f"{tree}/link", b"changed")
    assert read(api, f"{tree}/dir/file.txt").content == b"changed"
    readlink = api.get("/readlink", params={"path": f"{tree}/link"})
    assert readlink.status_code == 200 and readlink.json() == {"target": f"{tree}/dir/file.txt"}


def test_stat_of_a_link_describes_the_link(api, tree):
    symlink(api, f"{tree}/to-dir", "dir")
    info = stat(api, f"{tree}/to-dir")
    assert info["name"] == "to-dir" and info["mode"] == 0o777 and info["size"] == 3
    assert info["meta"]["Type"] == "symlink" and info["meta"]["Content"] == {"target": "dir"}
    assert info["isDir"] is True  # where it leads, as AGFS's clients read it
    entry = listing(api, tree)["to-dir"]
    assert entry["meta"]["Type"] == "symlink" and entry["isDir"] is True
    assert stat(api, f"{tree}/to-dir/file.txt")["size"] == 7  # inner components are followed


def test_relative_links_and_links_to_directories(api, tree):
    symlink(api, f"{tree}/dir/again", "../dir")
    assert read(api, f"{tree}/dir/again/file.txt").content == b"content"
    assert set(listing(api, f"{tree}/dir/again")) == {"file.txt", "again"}
    assert api.post("/directories", params={"path": f"{tree}/dir/again/sub"}).status_code == 201
    assert listing(api, f"{tree}/dir")["sub"]["isDir"] is True


def test_links_across_mounts_and_at_the_root(api, tree):
    put(api, "/kvfs/keys/linked", b"kv value")
    assert symlink(api, f"{tree}/kv", "/kvfs/keys/linked").status_code == 201
    assert read(api, f"{tree}/kv").content == b"kv value"
    assert symlink(api, "/shortcut", f"{tree}/dir").status_code == 201
    try:
        assert listing(api, "/")["shortcut"]["meta"]["Type"] == "symlink"
        assert read(api, "/shortcut/file.txt").content == b"content"
    finally:
        assert api.delete("/files", params={"path": "/shortcut"}).status_code == 200
    assert "shortcut" not in listing(api, "/")


@pytest.mark.parametrize("recursive", ["false", "true"])
def test_deleting_a_link_removes_only_the_link(api, tree, recursive):
    symlink(api, f"{tree}/to-dir", f"{tree}/dir")
    response = api.delete("/files", params={"path": f"{tree}/to-dir", "recursive": recursive})
    assert response.status_code == 200, response.text
    assert api.get("/stat", params={"path": f"{tree}/to-dir"}).status_code == 404
    assert read(api, f"{tree}/dir/file.txt").content == b"content"


def test_operations_through_a_link_reach_the_target(api, tree):
    symlink(api, f"{tree}/link", "dir/file.txt")
    assert api.post("/truncate", params={"path": f"{tree}/link", "size": 3}).status_code == 200
    assert api.post("/chmod", params={"path": f"{tree}/link"}, json={"mode": 0o600}).is_success
    assert api.post("/touch", params={"path": f"{tree}/link", "mtime": "1600000000"}).is_success
    target = stat(api, f"{tree}/dir/file.txt")
    assert target["size"] == 3 and target["mode"] & 0o777 == 0o600
    assert target["modTime"].startswith("2020-09-13")
    digest = api.post("/digest", json={"path": f"{tree}/link", "algorithm": "md5"})
    assert digest.json()["digest"] == hashlib.md5(b"con").hexdigest()
    renamed = api.post("/rename", params={"path": f"{tree}/link"}, json={"newPath": f"{tree}/l2"})
    assert renamed.status_code == 200, renamed.text
    assert read(api, f"{tree}/l2").content == b"con"
    assert "link" not in listing(api, tree)


def test_a_dangling_link_is_listed_and_writing_it_creates_the_target(api, tree):
    assert symlink(api, f"{tree}/later", "dir/not-yet").status_code == 201
    assert listing(api, tree)["later"]["isDir"] is False
    assert read(api, f"{tree}/later").status_code == 404
    put(api, f"{tree}/later", b"now")
    assert read(api, f"{tree}/dir/not-yet").content == b"now"


def test_loops_are_refused(api, tree):
    assert symlink(api, f"{tree}/self", "self").status_code == 400
    symlink(api, f"{tree}/a", "b")
    response = symlink(api, f"{tree}/b", "a")
    assert response.status_code == 400, response.text
    assert response.headers["x-pfs-error-kind"] == "SymlinkLoop"
    assert "leads back to the link" in response.json()["error"]
    response = symlink(api, f"{tree}/dir/up", "..")
    assert response.status_code == 201  # a link to an ancestor is no loop by itself
    response = read(api, f"{tree}/dir/up" + "/dir/up" * 11 + "/dir/file.txt")
    assert response.status_code == 400
    assert "too many levels of symbolic links" in response.json()["error"]
    grep = api.post("/grep", json={"path": tree, "pattern": "content", "recursive": True})
    assert grep.json()["count"] == 1  # a recursive grep does not follow links


def test_more_than_ten_links_on_one_path_are_refused(api, tree):
    for index in range(10):
        assert symlink(api, f"{tree}/l{index}", f"l{index + 1}").status_code == 201
    symlink(api, f"{tree}/l10", "dir/file.txt")
    assert read(api, f"{tree}/l1").content == b"content"  # ten links
    response = read(api, f"{tree}/l0")
    assert response.status_code == 400
    assert response.json()["error"] == f"too many levels of symbolic links: {tree}/l0"


@pytest.mark.parametrize(
    "params, body, status, message",
    [
        ({}, {"target": "/memfs"}, 400, "path parameter is required"),
        ({"path": "/memfs/l"}, {}, 400, "target is required"),
        ({"path": "/memfs/l"}, {"target": ""}, 400, "target is required"),
        ({"path": "/memfs/l"}, {"target": 5}, 400, "invalid request body"),
        ({"path": "/memfs/l"}, [1], 400, "invalid request body"),
        ({"path": "/memfs/README"}, {"target": "/x"}, 409, "symlink already exists: /memfs/README"),
        ({"path": "/memfs/no/l"}, {"target": "/x"}, 404, "parent directory does not exist"),
        ({"path": "/"}, {"target": "/x"}, 409, "symlink already exists"),
    ],
)
def test_bad_symlink_requests(api, params, body, status, message):
    response = api.post("/symlink", params=params, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert api.get("/stat", params={"path": "/memfs/l"}).status_code == 404


def test_a_link_over_a_link_is_refused(api, tree):
    symlink(api, f"{tree}/once", "dir")
    response = symlink(api, f"{tree}/once", "elsewhere")
    assert response.status_code == 409
    assert api.get("/readlink", params={"path": f"{tree}/once"}).json() == {"target": "dir"}


def test_readlink_of_what_is_not_a_link_is_404(api, tree):
    for path in (f"{tree}/dir/file.txt", f"{tree}/missing", "/local", "/nowhere"):
        response = api.get("/readlink", params={"path": path})
        assert response.status_code == 404, (path, response.text)
    assert api.get("/readlink").status_code == 400
    assert api.post("/readlink", params={"path": tree}).status_code == 405
    assert api.get("/symlink", params={"path": tree}).status_code == 405


def test_create_and_mkdir_at_a_link_are_409(api, tree):
    symlink(api, f"{tree}/taken", "dir/none")
    assert api.post("/files", params={"path": f"{tree}/taken"}).status_code == 409
    assert api.post("/directories", params={"path": f"{tree}/taken"}).status_code == 409


def test_a_read_only_mount_refuses_links(api):
    config = {"fstype": "memfs", "path": "/ro", "config": {"read_only": True}}
    assert api.post("/mount", json=config).status_code == 200
    try:
        assert symlink(api, "/ro/link", "/memfs").status_code == 403
    finally:
        api.post("/unmount", json={"path": "/ro"})


# -- localfs: real symlinks ---------------------------------------------------------------


def test_localfs_links_are_real_relative_symlinks(server, api):
    api.post("/directories", params={"path": "/local/docs"})
    put(api, "/local/docs/a.txt", b"on disk")
    assert symlink(api, "/local/docs/b.txt", "a.txt").status_code == 201
    assert symlink(api, "/local/top", "/local/docs").status_code == 201
    assert os.readlink(server.local_dir / "docs" / "b.txt") == "a.txt"
    assert os.readlink(server.local_dir / "top") == "docs"
    assert (server.local_dir / "top" / "b.txt").read_bytes() == b"on disk"  # for the OS too
    assert read(api, "/local/top/b.txt").content == b"on disk"
    assert api.get("/readlink", params={"path": "/local/top"}).json() == {"target": "/local/docs"}
    info = stat(api, "/local/docs/b.txt")
    assert info["meta"]["Type"] == "symlink" and info["meta"]["Content"]["target"] == "a.txt"
    assert listing(api, "/local")["top"]["meta"]["Type"] == "symlink"
    put(api, "/local/top/b.txt", b"through two links")
    assert (server.local_dir / "docs" / "a.txt").read_bytes() == b"through two links"
    assert api.delete("/files", params={"path": "/local/top"}).status_code == 200
    assert not os.path.lexists(server.local_dir / "top")
    assert (server.local_dir / "docs" / "a.txt").exists()


def test_localfs_links_survive_a_restart(server, api, start_server):
    put(api, "/local/kept.txt", b"kept")
    symlink(api, "/local/kept-link", "kept.txt")
    with start_server(server.config) as again:
        assert httpx.get(again.api + "/files", params={"path": "/local/kept-link"}).content == (
            b"kept"
        )


@pytest.mark.parametrize("target", ["/memfs/x", "/local/../memfs", "../../etc", "/"])
def test_localfs_refuses_a_link_out_of_local_dir(server, api, target):
    response = symlink(api, "/local/out", target)
    assert response.status_code == 403, response.text
    assert "outside /local" in response.json()["error"]
    assert not os.path.lexists(server.local_dir / "out")


@pytest.mark.parametrize("text", ["/etc/passwd", "../../../../etc/passwd", "sub/../../x"])
def test_a_host_made_link_out_of_local_dir_is_never_followed(server, api, text):
    os.symlink(text, server.local_dir / "escape")
    try:
        for response in (
            read(api, "/local/escape"),
            api.get("/directories", params={"path": "/local/escape"}),
            api.put("/files", params={"path": "/local/escape"}, content=b"x"),
            api.get("/readlink", params={"path": "/local/escape"}),
        ):
            assert response.status_code == 403, response.text
            assert "outside local_dir" in response.json()["error"]
        assert stat(api, "/local/escape")["meta"]["Type"] == "symlink"
    finally:
        os.unlink(server.local_dir / "escape")


def test_a_memfs_link_into_localfs_is_kept_by_the_table(server, api):
    """The link lives in memfs (the table keeps it) and leads into localfs."""
    put(api, "/local/file", b"local bytes")
    assert symlink(api, "/memfs/to-local", "/local/file").status_code == 201
    assert read(api, "/memfs/to-local").content == b"local bytes"
    api.delete("/files", params={"path": "/memfs/to-local"})


def test_offset_and_append_writes_through_a_root_link_reach_the_target(api):
    """The body of such a write is staged by what the target's plugin needs, not the link's."""
    put(api, "/local/ranged", b"0123456789")
    assert symlink(api, "/ranged", "/local/ranged").status_code == 201
    try:
        body = b"x" * (2 << 20)  # over the inline size: streamed through the staging decision
        response = api.put("/files", params={"path": "/ranged", "offset": 5}, content=body)
        assert response.status_code == 200, response.text
        response = api.put("/files", params={"path": "/ranged", "flags": "append"}, content=b"!")
        assert response.status_code == 200, response.text
        assert read(api, "/local/ranged").content == b"01234" + body + b"!"
    finally:
        api.delete("/files", params={"path": "/ranged"})
