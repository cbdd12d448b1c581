"""s3fs against a real moto_server and a real pfs-server, over HTTP."""

from __future__ import annotations

import hashlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.moto import MotoServer
from pfs.testing.server import ServerProcess, free_port

# A memfs-only server per module; the root conftest's ``api`` talks to it.
server = server_fixture(MEMFS_ONLY)


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def make_bucket(moto: MotoServer) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def mounted(api, moto):
    """A fresh bucket mounted at a fresh path; yields (mount path, bucket)."""
    bucket = make_bucket(moto)
    path = f"/s3-{bucket}"
    r = api.post(
        "/mount", json={"fstype": "s3fs", "path": path, "config": moto.mount_config(bucket)}
    )
    assert r.status_code == 200, r.text
    yield path, bucket
    api.post("/unmount", json={"path": path})


def names(api: httpx.Client, path: str) -> list[str]:
    r = api.get("/directories", params={"path": path})
    assert r.status_code == 200, r.text
    return sorted(f["name"] + ("/" if f["isDir"] else "") for f in r.json()["files"] or [])


def test_every_operation(api, moto, mounted):
    """mkdir, create, write, read (ranges), stat, ls, rename, chmod, rm and rm -r all work."""
    root, bucket = mounted
    assert api.post("/directories", params={"path": f"{root}/docs"}).status_code == 201
    assert api.post("/files", params={"path": f"{root}/docs/empty"}).status_code == 201
    r = api.put("/files", params={"path": f"{root}/docs/a.txt"}, content=b"hello world")
    assert r.json() == {"message": "Written 11 bytes to docs/a.txt"}
    assert api.get("/files", params={"path": f"{root}/docs/a.txt"}).content == b"hello world"
    r = api.get("/files", params={"path": f"{root}/docs/a.txt", "offset": 6, "size": 3})
    assert r.content == b"wor"
    r = api.get("/files", params={"path": f"{root}/docs/a.txt", "offset": 100})
    assert r.status_code == 200 and r.content == b""
    stat = api.get("/stat", params={"path": f"{root}/docs/a.txt"}).json()
    assert stat["size"] == 11 and not stat["isDir"]
    assert stat["meta"]["Content"] == {"region": "us-east-1", "bucket": bucket, "prefix": ""}
    assert api.get("/stat", params={"path": f"{root}/docs"}).json()["isDir"] is True
    assert names(api, root) == ["docs/"]
    assert names(api, f"{root}/docs") == ["a.txt", "empty"]

    r = api.post(
        "/rename", params={"path": f"{root}/docs/a.txt"}, json={"newPath": f"{root}/b.txt"}
    )
    assert r.status_code == 200, r.text
    assert names(api, root) == ["b.txt", "docs/"]
    r = api.post("/rename", params={"path": f"{root}/docs"}, json={"newPath": f"{root}/moved"})
    assert r.status_code == 200, r.text
    assert names(api, f"{root}/moved") == ["empty"]
    assert (
        api.post("/chmod", params={"path": f"{root}/b.txt"}, json={"mode": 0o600}).status_code
        == 200
    )

    r = api.delete("/directories", params={"path": f"{root}/moved"})
    assert r.status_code == 409 and r.json()["error"] == f"directory not empty: {root}/moved"
    assert api.delete("/files", params={"path": f"{root}/b.txt"}).status_code == 200
    r = api.delete("/files", params={"path": f"{root}/moved", "recursive": "true"})
    assert r.status_code == 200
    assert names(api, root) == []
    assert moto.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_errors_have_original_messages(api, mounted):
    """Missing files, existing targets and missing parents answer with the typed status."""
    root, _ = mounted
    r = api.get("/files", params={"path": f"{root}/nope"})
    assert r.status_code == 404 and r.json()["error"] == f"no such file or directory: {root}/nope"
    r = api.get("/stat", params={"path": f"{root}/nope"})
    assert r.status_code == 404 and r.json()["error"] == f"no such file or directory: {root}/nope"
    r = api.put("/files", params={"path": f"{root}/no/dir/x"}, content=b"x")
    assert (
        r.status_code == 404 and r.json()["error"] == f"no such file or directory: {root}/no/dir/x"
    )
    api.put("/files", params={"path": f"{root}/f"}, content=b"1")
    r = api.post("/files", params={"path": f"{root}/f"})
    assert r.status_code == 409 and r.json()["error"] == f"file already exists: {root}/f"
    r = api.get("/directories", params={"path": f"{root}/f"})
    assert r.status_code == 400
    api.post("/directories", params={"path": f"{root}/d"})
    r = api.put("/files", params={"path": f"{root}/d"}, content=b"x")
    assert r.status_code == 400 and r.json()["error"] == f"is a directory: {root}/d"


def test_partial_write_refused_and_content_kept(api, mounted):
    """An offset/append write is 501 and leaves the object as it was."""
    root, _ = mounted
    api.put("/files", params={"path": f"{root}/keep"}, content=b"original")
    r = api.put("/files", params={"path": f"{root}/keep", "offset": 3}, content=b"XX")
    assert r.status_code == 501
    r = api.put("/files", params={"path": f"{root}/keep", "flags": "append"}, content=b"XX")
    assert r.status_code == 501
    assert api.get("/files", params={"path": f"{root}/keep"}).content == b"original"


def test_stream_and_range_reads(api, mounted):
    """stream=true relays the whole object; a Range header answers 206 with the slice."""
    root, _ = mounted
    data = os.urandom(3 * 256 * 1024 + 123)
    api.put("/files", params={"path": f"{root}/blob"}, content=data)
    with api.stream("GET", "/files", params={"path": f"{root}/blob", "stream": "true"}) as r:
        assert r.status_code == 200
        assert b"".join(r.iter_bytes()) == data
    r = api.get("/files", params={"path": f"{root}/blob"}, headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206 and r.content == data[1000:2000]
    r = api.get("/files", params={"path": f"{root}/missing", "stream": "true"})
    assert r.status_code == 404


def test_listing_beyond_one_page(api, moto, mounted):
    """A directory of 1,500 keys lists completely (ListObjectsV2 pages of 1,000)."""
    root, bucket = mounted
    s3 = moto.client()
    keys = [f"many/k{i:04d}" for i in range(1500)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    listed = names(api, f"{root}/many")
    assert listed == sorted(k.split("/")[1] for k in keys)
    r = api.delete("/files", params={"path": f"{root}/many", "recursive": "true"})
    assert r.status_code == 200
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def peak_rss(server: ServerProcess) -> int:
    with open(f"/proc/{server.worker_pid()}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_large_upload_is_multipart_with_bounded_memory(api, server, moto, mounted):
    """A 50 MiB streamed PUT goes up in parts; the server's peak memory grows far less."""
    root, bucket = mounted
    piece = os.urandom(1 << 20)
    digest = hashlib.sha256()
    for _ in range(50):
        digest.update(piece)

    def body():
        for _ in range(50):
            yield piece

    api.put("/files", params={"path": f"{root}/warmup"}, content=b"w" * (9 << 20))
    before = peak_rss(server)
    r = api.put("/files", params={"path": f"{root}/big.bin"}, content=body())
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"Written {50 << 20} bytes to big.bin"
    growth = peak_rss(server) - before
    assert growth < 30 << 20, f"peak RSS grew by {growth >> 20} MiB for a 50 MiB upload"
    head = moto.client().head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 50 << 20
    assert "-" in head["ETag"], "not a multipart upload"
    got = hashlib.sha256()
    with api.stream("GET", "/files", params={"path": f"{root}/big.bin", "stream": "true"}) as r:
        for chunk in r.iter_bytes():
            got.update(chunk)
    assert got.hexdigest() == digest.hexdigest()


def test_prefix_isolates_mounts(api, moto):
    """A mount with prefix team1 never sees keys under team1-x/ (and vice versa)."""
    bucket = make_bucket(moto)
    s3 = moto.client()
    s3.put_object(Bucket=bucket, Key="team1-x/secret.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="team1x.txt", Body=b"x")
    for name, prefix in (("/t1", "team1"), ("/t1x", "/team1-x/")):
        config = moto.mount_config(bucket, prefix=prefix)
        r = api.post("/mount", json={"fstype": "s3fs", "path": name, "config": config})
        assert r.status_code == 200, r.text
    try:
        api.put("/files", params={"path": "/t1/mine.txt"}, content=b"1")
        assert names(api, "/t1") == ["mine.txt"]
        assert names(api, "/t1x") == ["secret.txt"]
        assert api.get("/files", params={"path": "/t1/../t1x/secret.txt"}).content == b"x"
        r = api.get("/files", params={"path": "/t1/-x/secret.txt"})
        assert r.status_code == 404
        api.delete("/files", params={"path": "/t1/", "recursive": "true"})
        assert s3.get_object(Bucket=bucket, Key="team1-x/secret.txt")["Body"].read() == b"x"
        assert "team1/mine.txt" in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    finally:
        api.post("/unmount", json={"path": "/t1"})
        api.post("/unmount", json={"path": "/t1x"})


def test_non_utf8_name_round_trips(api, mounted):
    """A name with invalid UTF-8 bytes is stored under its replacement form and reads back."""
    root, _ = mounted
    url = f"/files?path={root}/caf%FF.txt"
    r = api.put(url, content=b"data")
    assert r.status_code == 200, r.text
    r = api.get(url)
    assert r.status_code == 200 and r.content == b"data"
    assert names(api, root) == ["caf\ufffd.txt"]


def test_missing_bucket_is_a_clear_error(api, moto):
    """Mounting a bucket that does not exist is a 404 naming the bucket; nothing is mounted."""
    r = api.post(
        "/mount", json={"fstype": "s3fs", "path": "/nob", "config": moto.mount_config("absent")}
    )
    assert r.status_code == 404
    assert "failed to access bucket absent: the bucket does not exist" in r.json()["error"]
    assert "/nob" not in {m["path"] for m in api.get("/mounts").json()["mounts"] or []}


def test_bad_credentials_are_a_clear_error(api):
    """A store that rejects the key answers 403 naming the cause."""
    with MotoServer(enforce_auth=True) as strict:
        config = strict.mount_config("anything")
        r = api.post("/mount", json={"fstype": "s3fs", "path": "/badcreds", "config": config})
    assert r.status_code == 403, r.text
    assert "access denied by S3" in r.json()["error"]


def test_unreachable_endpoint_is_a_clear_error(api):
    """Nothing listening at the endpoint: 503 saying it is unreachable, not a hang."""
    config = {
        "bucket": "b",
        "endpoint": f"http://127.0.0.1:{free_port()}",
        "access_key_id": "k",
        "secret_access_key": "s",
    }
    r = api.post("/mount", json={"fstype": "s3fs", "path": "/dead", "config": config})
    assert r.status_code == 503, r.text
    assert "S3 endpoint unreachable" in r.json()["error"]


def test_bad_config_is_rejected(api):
    """Missing bucket key, unknown keys and half credentials are 400 before any network call."""
    r = api.post("/mount", json={"fstype": "s3fs", "path": "/x", "config": {}})
    assert r.status_code == 400 and "bucket is required" in r.json()["error"]
    r = api.post(
        "/mount",
        json={"fstype": "s3fs", "path": "/x", "config": {"bucket": "b", "access_key": "k"}},
    )
    assert r.status_code == 400 and "'access_key'" in r.json()["error"]
    r = api.post(
        "/mount",
        json={"fstype": "s3fs", "path": "/x", "config": {"bucket": "b", "access_key_id": "k"}},
    )
    assert r.status_code == 400 and "must be given together" in r.json()["error"]
