"""The SDK against a real server: every method, sync and async, and its typed errors."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid

import pytest

from pfs.client import (
    AlreadyExists,
    AsyncClient,
    Client,
    FileInfo,
    FSError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    PermissionDenied,
    ServerNotRunning,
)
from pfs.testing.server import free_port


@pytest.fixture
def client(server):
    with Client(server.url) as c:
        yield c


@pytest.fixture
async def aclient(server):
    async with AsyncClient(server.url) as c:
        yield c


@pytest.fixture
def d(client):
    """A fresh directory in memfs for one test."""
    path = f"/memfs/t-{uuid.uuid4().hex[:8]}"
    client.mkdir(path)
    yield path
    client.rm(path, recursive=True)


def test_base_url_resolution(monkeypatch):
    assert Client().base_url == "http://localhost:8080/api/v1"
    assert Client("http://h:1/").base_url == "http://h:1/api/v1"
    assert Client("http://h:1/api/v1").base_url == "http://h:1/api/v1"
    monkeypatch.setenv("PFS_API_URL", "http://env:9")
    assert Client().base_url == "http://env:9/api/v1"


def test_health_ls_stat_exists(client, d):
    assert client.health()["status"] == "healthy"
    assert {"memfs", "kvfs"} <= {e.name for e in client.ls("/")}
    assert client.ls(d) == []
    client.write(d + "/f", b"12345")
    [entry] = client.ls(d)
    assert isinstance(entry, FileInfo) and (entry.name, entry.size) == ("f", 5)
    info = client.stat(d)
    assert info.is_dir
    assert client.exists(d + "/f") and not client.exists(d + "/nope")


def test_cat_ranges_and_iter_cat(client, d):
    client.write(d + "/f", "hello world")
    assert client.cat(d + "/f") == b"hello world"
    assert client.cat(d + "/f", offset=6) == b"world"
    assert client.cat(d + "/f", 2, 3) == b"llo"
    assert client.cat(d + "/f", 100) == b""
    assert b"".join(client.iter_cat(d + "/f", chunk_size=4)) == b"hello world"
    assert list(client.iter_cat(d + "/f", chunk_size=4))[0] == b"hell"
    assert b"".join(client.iter_cat(d + "/f", 6, 3)) == b"wor"


def test_open_reads_with_ranges(client, d):
    data = bytes(range(256)) * 1000
    client.write(d + "/bin", data)
    with client.open(d + "/bin") as f:
        assert f.read(10) == data[:10]
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]
        f.seek(1000)
        assert f.tell() == 1000
        assert f.read(3) == data[1000:1003]
        f.seek(0)
        assert f.read() == data
    with pytest.raises(IsADirectory):
        client.open(d)
    with pytest.raises(ValueError, match="only 'rb'"):
        client.open(d + "/bin", "wb")


def test_write_sources_offsets_and_flags(client, d):
    p = d + "/w"
    assert client.write(p, b"bytes") == ""
    assert client.cat(p) == b"bytes"
    client.write(p, "text é")
    assert client.cat(p) == "text é".encode()
    client.write(p, io.BytesIO(b"from a file"))
    assert client.cat(p) == b"from a file"
    client.write(p, (bytes([c]) for c in b"gen"))
    assert client.cat(p) == b"gen"
    client.write(p, b"XY", offset=1)
    assert client.cat(p) == b"gXY"
    client.write(p, b"++", flags=["append"])
    assert client.cat(p) == b"gXY++"
    with pytest.raises(AlreadyExists):
        client.write(p, b"no", flags=["create", "exclusive"])
    assert client.cat(p) == b"gXY++"
    with pytest.raises(ValueError, match="unknown write flag"):
        client.write(p, b"no", flags=["sideways"])
    with pytest.raises(ValueError, match="offset must be >= 0"):
        client.write(p, b"no", offset=-1)
    with pytest.raises(TypeError):
        client.write(p, 12345)
    assert client.cat(p) == b"gXY++"


def test_write_progress_reports_bytes(client, d):
    seen = []
    client.write(
        d + "/p", b"x" * 200_000, progress=lambda n, done, total: seen.append((done, total))
    )
    assert seen[0] == (0, 200_000) and seen[-1] == (200_000, 200_000)


def test_create_mkdir_rm_mv_chmod(client, d):
    assert client.create(d + "/c") == "file created"
    with pytest.raises(AlreadyExists, match="already exists"):
        client.mkdir(d + "/c")
    assert client.mkdir(d + "/sub", mode=0o700) == "directory created"
    client.mkdir(d + "/a/b/c", parents=True)
    client.mkdir(d + "/a/b/c", parents=True)  # existing: fine, like mkdir -p
    assert client.stat(d + "/a/b/c").is_dir
    with pytest.raises(FSError, match="not a directory"):
        client.mkdir(d + "/c/x", parents=True)
    assert client.mv(d + "/c", d + "/c2") == "renamed"
    assert not client.exists(d + "/c") and client.exists(d + "/c2")
    assert client.chmod(d + "/c2", 0o600) == "permissions changed"
    assert client.stat(d + "/c2").mode & 0o777 == 0o600
    assert client.rm(d + "/c2") == "deleted"
    with pytest.raises(FSError, match="not empty"):
        client.rm(d + "/a")
    client.rm(d + "/a", recursive=True)
    assert not client.exists(d + "/a")


def test_errors_are_typed_with_server_text(client, d):
    with pytest.raises(NotFound) as info:
        client.cat(d + "/missing")
    assert str(info.value) == "no such file or directory: " + d + "/missing"
    with pytest.raises(NotFound, match="no such file or directory: /nowhere"):
        client.stat("/nowhere")
    with pytest.raises(InvalidArgument, match="invalid regex pattern"):
        client.grep(d, "(", recursive=True)
    with pytest.raises(InvalidArgument, match="unsupported algorithm"):
        client.digest(d, "sha0")


def test_mounts_mount_unmount(client):
    where = f"/m-{uuid.uuid4().hex[:6]}"
    assert client.mount("memfs", where) == "plugin mounted"
    assert where in {m["path"] for m in client.mounts()}
    with pytest.raises(AlreadyExists, match="mount already exists"):
        client.mount("memfs", where)
    with pytest.raises(InvalidArgument, match="unknown filesystem type: nosuchfs"):
        client.mount("nosuchfs", "/x")
    assert client.unmount(where) == "plugin unmounted"
    assert where not in {m["path"] for m in client.mounts()}
    with pytest.raises(FSError, match="no mount at path"):
        client.unmount(where)


def test_grep_and_iter_grep(client, d):
    client.write(d + "/g1", "alpha\nBeta\ngamma beta\n")
    client.write(d + "/g2", "nothing\n")
    result = client.grep(d + "/g1", "beta")
    assert result["count"] == 1 and result["matches"][0]["line"] == 3
    assert client.grep(d, "beta", recursive=True, case_insensitive=True)["count"] == 2
    assert client.grep(d + "/g2", "beta") == {"matches": [], "count": 0}
    lines = list(client.iter_grep(d, "beta", recursive=True, case_insensitive=True))
    assert [x.get("line") for x in lines[:-1]] == [2, 3]
    assert lines[-1] == {"count": 2, "type": "summary"}
    with pytest.raises(InvalidArgument, match="use recursive=true"):
        list(client.iter_grep(d, "beta"))


def test_digest_and_plugins(client, d):
    client.write(d + "/h", "hello")
    assert client.digest(d + "/h") == "c779cfaa5e523818"
    assert client.digest(d + "/h", "md5") == "5d41402abc4b2a76b9719d911017c592"
    assert isinstance(client.plugins(), list)
    with pytest.raises(FSError, match="library_path is required"):
        client.load_plugin("")
    with pytest.raises(FSError):
        client.load_plugin("/no/such/plugin.so")
    with pytest.raises(FSError):
        client.unload_plugin("/no/such/plugin.so")


def test_upload_download_copy_trees(client, d, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"A" * 1000)
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01" * 5000)
    with pytest.raises(IsADirectory):
        client.upload(src, d + "/up")
    assert client.upload(src, d + "/up", recursive=True) == 11000
    assert client.cat(d + "/up/sub/b.bin") == b"\x00\x01" * 5000
    assert client.upload(src / "a.txt", d + "/deep/er/a.txt") == 1000  # parents created
    assert client.copy(d + "/up", d + "/up2", recursive=True) == 11000
    assert client.cat(d + "/up2/a.txt") == b"A" * 1000
    assert client.copy(d + "/up/a.txt", d + "/single") == 1000
    out = tmp_path / "out"
    assert client.download(d + "/up2", out, recursive=True) == 11000
    assert (out / "sub" / "b.bin").read_bytes() == b"\x00\x01" * 5000
    with pytest.raises(IsADirectory):
        client.download(d + "/up2", tmp_path / "x")
    with pytest.raises(NotFound):
        client.download(d + "/none", tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_server_not_running_is_clear():
    port = free_port()
    with Client(f"http://127.0.0.1:{port}") as c:
        with pytest.raises(ServerNotRunning) as info:
            c.ls("/")
    assert str(info.value) == f"Connection refused - server not running at http://127.0.0.1:{port}"
    assert isinstance(info.value, ConnectionError)


def test_token_sent_as_bearer(start_server, monkeypatch):
    config = {
        "server": {
            "auth": {
                "tokens": [{"token": "r-tok", "role": "read"}, {"token": "w-tok", "role": "write"}]
            }
        },
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    }
    srv = start_server(config)
    with Client(srv.url) as anonymous, pytest.raises(PermissionDenied, match="authentication"):
        anonymous.ls("/memfs")
    with Client(srv.url, token="r-tok") as reader:
        reader.ls("/memfs")
        with pytest.raises(PermissionDenied, match="cannot do this"):
            reader.write("/memfs/x", b"no")
    monkeypatch.setenv("PFS_TOKEN", "w-tok")
    with Client(srv.url) as writer:
        writer.write("/memfs/x", b"yes")
        assert writer.cat("/memfs/x") == b"yes"


# The async twin, method by method.


async def test_async_every_method(aclient, server, tmp_path):
    d = f"/memfs/a-{uuid.uuid4().hex[:8]}"
    assert (await aclient.health())["status"] == "healthy"
    assert await aclient.mkdir(d) == "directory created"
    assert await aclient.ls(d) == []
    assert await aclient.write(d + "/f", "hello world") == ""
    assert (await aclient.stat(d + "/f")).size == 11
    assert await aclient.exists(d + "/f") and not await aclient.exists(d + "/nope")
    assert await aclient.cat(d + "/f", 6) == b"world"
    assert [c async for c in aclient.iter_cat(d + "/f", chunk_size=5)][:2] == [b"hello", b" worl"]

    async def agen():
        yield b"as"
        yield b"ync"

    await aclient.write(d + "/g", agen())
    assert await aclient.cat(d + "/g") == b"async"
    await aclient.write(d + "/g", [b"sync", b"-iter"])
    assert await aclient.cat(d + "/g") == b"sync-iter"
    await aclient.write(d + "/g", io.BytesIO(b"file"), offset=4)
    assert await aclient.cat(d + "/g") == b"syncfiler"
    await aclient.write(d + "/g", b"!", flags=("append",))
    assert await aclient.cat(d + "/g") == b"syncfiler!"
    async with aclient.open(d + "/g") as f:
        assert await f.read(4) == b"sync"
        await f.seek(-1, io.SEEK_END)
        assert await f.read() == b"!"
    assert await aclient.create(d + "/c") == "file created"
    with pytest.raises(AlreadyExists):
        await aclient.create(d + "/c")
    await aclient.mkdir(d + "/x/y", parents=True)
    assert await aclient.mv(d + "/c", d + "/x/c") == "renamed"
    assert await aclient.chmod(d + "/x/c", 0o640) == "permissions changed"
    assert (await aclient.stat(d + "/x/c")).mode & 0o777 == 0o640
    assert (await aclient.grep(d + "/f", "world"))["count"] == 1
    lines = [x async for x in aclient.iter_grep(d, "o", recursive=True)]
    assert lines[-1]["type"] == "summary"
    assert await aclient.digest(d + "/f", "md5") == "5eb63bbbe01eeed093cb22bb8f5acdc3"
    where = f"/am-{uuid.uuid4().hex[:6]}"
    assert await aclient.mount("kvfs", where) == "plugin mounted"
    assert where in {m["path"] for m in await aclient.mounts()}
    assert await aclient.unmount(where) == "plugin unmounted"
    assert isinstance(await aclient.plugins(), list)
    with pytest.raises(FSError):
        await aclient.load_plugin("/no/such.so")
    with pytest.raises(FSError):
        await aclient.unload_plugin("/no/such.so")
    local = tmp_path / "l"
    local.mkdir()
    (local / "z").write_bytes(b"zz" * 100)
    assert await aclient.upload(local, d + "/up", recursive=True) == 200
    assert await aclient.copy(d + "/up", d + "/up2", recursive=True) == 200
    assert await aclient.download(d + "/up2", tmp_path / "o", recursive=True) == 200
    assert (tmp_path / "o" / "z").read_bytes() == b"zz" * 100
    with pytest.raises(NotFound):
        await aclient.cat(d + "/missing")
    assert await aclient.rm(d, recursive=True) == "deleted"


async def test_async_server_not_running():
    async with AsyncClient(f"http://127.0.0.1:{free_port()}") as c:
        with pytest.raises(ServerNotRunning, match="server not running"):
            await c.health()


def test_clients_never_import_the_server():
    code = (
        "import sys, pfs.client, pfs.shell.cli, pfs.shell.repl\n"
        "loaded = [m for m in sys.modules if m.startswith('pfs.server') or m == 'pfs.plugins']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_error_kind_tells_apart_errors_with_one_status(server):
    """409 is both NotEmpty and AlreadyExists; the kind header picks the exact class."""
    from pfs.client import Client
    from pfs.fs.errors import AlreadyExists, CrossMount, NotEmpty

    with Client(server.url) as c:
        c.mkdir("/memfs/kind-test")
        c.write("/memfs/kind-test/f", b"x")
        with pytest.raises(NotEmpty):
            c.rm("/memfs/kind-test")
        with pytest.raises(AlreadyExists):
            c.mkdir("/memfs/kind-test")
        with pytest.raises(CrossMount):
            c.mv("/memfs/kind-test/f", "/kvfs/keys/f")
        c.rm("/memfs/kind-test", recursive=True)
