"""s3fs with AGFS's keys against a real moto_server: objects AGFS stored under a wrapped prefix,
the prefix layout choice, the stat/listing cache (TTL, size, this server's writes), path-style
addressing and the string values AGFS's shell sends."""

from __future__ import annotations

import time
import uuid

import pytest

from pfs.fs.config import validate_config
from pfs.plugins.s3fs.plugin import S3FS
from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.moto import MotoServer

server = server_fixture(MEMFS_ONLY)


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as running:
        yield running


@pytest.fixture
def bucket(moto):
    name = f"agfs-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def mount(api, moto, bucket):
    """``mount(**config)`` → a fresh mount path of ``bucket``; unmounted after the test."""
    made: list[str] = []

    def mount(**config) -> str:
        path = f"/s3-{uuid.uuid4().hex[:8]}"
        r = api.post("/mount", json={
            "fstype": "s3fs", "path": path, "config": moto.mount_config(bucket, **config),
        })
        assert r.status_code == 200, r.text
        made.append(path)
        return path

    yield mount
    for path in made:
        api.post("/unmount", json={"path": path})


def names(api, path: str) -> list[str]:
    r = api.get("/directories", params={"path": path})
    assert r.status_code == 200, r.text
    return sorted(f["name"] + ("/" if f["isDir"] else "") for f in r.json()["files"] or [])


def keys(moto, bucket: str) -> list[str]:
    listed = moto.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def put(moto, bucket: str, key: str, body: bytes) -> None:
    """A change made behind this server's back (another server, AGFS, a tool)."""
    moto.client().put_object(Bucket=bucket, Key=key, Body=body)


def test_objects_agfs_wrote_under_a_prefix_are_read(api, moto, bucket, mount):
    put(moto, bucket, "__PREFIX__agfs__/top.txt", b"top")
    put(moto, bucket, "__PREFIX__agfs__/docs/a.txt", b"hello from agfs")
    root = mount(prefix="agfs/")  # as AGFS's example writes it; prefix_layout: auto
    assert names(api, root) == ["docs/", "top.txt"]
    assert api.get("/files", params={"path": f"{root}/docs/a.txt"}).content == b"hello from agfs"
    stat = api.get("/stat", params={"path": f"{root}/top.txt"}).json()
    assert stat["size"] == 3 and stat["meta"]["Content"]["prefix"] == "agfs"
    r = api.put("/files", params={"path": f"{root}/docs/b.txt"}, content=b"new")
    assert r.status_code == 200, r.text
    assert "__PREFIX__agfs__/docs/b.txt" in keys(moto, bucket)


def test_new_data_uses_our_prefix_layout_unless_asked(api, moto, bucket, mount):
    ours = mount(prefix="data")
    api.put("/files", params={"path": f"{ours}/x"}, content=b"1")
    agfs = mount(prefix="other", prefix_layout="agfs")
    api.put("/files", params={"path": f"{agfs}/y"}, content=b"2")
    assert keys(moto, bucket) == ["__PREFIX__other__/y", "data/x"]
    # A bucket with keys in both layouts under one prefix: auto cannot tell.
    put(moto, bucket, "__PREFIX__data__/z", b"3")
    r = api.post("/mount", json={"fstype": "s3fs", "path": "/s3-both",
                                 "config": moto.mount_config(bucket, prefix="data")})
    assert r.status_code == 400 and "set prefix_layout to pfs or agfs" in r.json()["error"]
    both = mount(prefix="data", prefix_layout="pfs")
    assert names(api, both) == ["x"]


def test_cache_serves_stat_and_listing_until_this_server_changes_them(api, moto, bucket, mount):
    root = mount(cache_enabled=True, cache_ttl="1h", stat_cache_ttl=3600)
    assert api.post("/directories", params={"path": f"{root}/d"}).status_code == 201
    api.put("/files", params={"path": f"{root}/d/f"}, content=b"12345")
    assert api.get("/stat", params={"path": f"{root}/d/f"}).json()["size"] == 5
    assert names(api, f"{root}/d") == ["f"]
    # Behind our back: the cached answers stay (that is what the cache is for) …
    put(moto, bucket, "d/f", b"1234567890")
    put(moto, bucket, "d/g", b"g")
    assert api.get("/stat", params={"path": f"{root}/d/f"}).json()["size"] == 5
    assert names(api, f"{root}/d") == ["f"]
    # … until this server changes them: a write in d drops d's listing (not f's stat) …
    api.put("/files", params={"path": f"{root}/d/h"}, content=b"h")
    assert names(api, f"{root}/d") == ["f", "g", "h"]
    assert api.get("/stat", params={"path": f"{root}/d/f"}).json()["size"] == 5
    assert api.delete("/files", params={"path": f"{root}/d/g"}).status_code == 200
    assert names(api, f"{root}/d") == ["f", "h"]
    r = api.post("/rename", params={"path": f"{root}/d"}, json={"newPath": f"{root}/e"})
    assert r.status_code == 200, r.text
    assert api.get("/stat", params={"path": f"{root}/d/f"}).status_code == 404
    assert names(api, root) == ["e/"]
    assert api.get("/stat", params={"path": f"{root}/e/f"}).json()["size"] == 10


def test_cache_off_ttl_and_size(api, moto, bucket, mount):
    off = mount()  # cache_enabled defaults to false: other writers are seen at once
    put(moto, bucket, "a", b"1")
    assert api.get("/stat", params={"path": f"{off}/a"}).json()["size"] == 1
    put(moto, bucket, "a", b"22")
    assert api.get("/stat", params={"path": f"{off}/a"}).json()["size"] == 2

    short = mount(cache_enabled=True, cache_ttl=0.2, stat_cache_ttl="200ms")
    assert names(api, short) == ["a"]
    put(moto, bucket, "b", b"b")
    time.sleep(0.5)  # past the TTL: the listing is read again
    assert names(api, short) == ["a", "b"]

    small = mount(cache_enabled=True, cache_ttl="1h", cache_max_size=1)
    put(moto, bucket, "dir1/x", b"x")
    put(moto, bucket, "dir2/y", b"y")
    assert names(api, f"{small}/dir1") == ["x"]
    assert names(api, f"{small}/dir2") == ["y"]  # the one listing kept: dir1's is dropped
    put(moto, bucket, "dir1/x2", b"x")
    assert names(api, f"{small}/dir1") == ["x", "x2"]
    put(moto, bucket, "dir1/x3", b"x")
    assert names(api, f"{small}/dir1") == ["x", "x2"]  # now dir1's listing is the cached one


def test_agfs_shell_string_values_and_path_style(api, moto, bucket, mount):
    # AGFS's shell sends every mount value as a string.
    root = mount(
        use_path_request_style="true", cache_enabled="false", cache_ttl="30s",
        stat_cache_ttl="60", cache_max_size="1000", part_size="8MB", connect_timeout="5",
        endpoint=moto.endpoint.replace("127.0.0.1", "localhost"),
    )
    assert api.put("/files", params={"path": f"{root}/p"}, content=b"path").status_code == 200
    assert api.get("/files", params={"path": f"{root}/p"}).content == b"path"
    r = api.post("/mount", json={"fstype": "s3fs", "path": "/s3-bad",
                                 "config": moto.mount_config(bucket, cache_enabled="maybe")})
    assert r.status_code == 400 and "cache_enabled" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "s3fs", "path": "/s3-bad",
                                 "config": moto.mount_config(bucket, cache_ttl="soon")})
    assert r.status_code == 400 and "cache_ttl" in r.json()["error"]


@pytest.mark.parametrize(
    ("use_path", "endpoint", "style"),
    [(True, "", "path"), (None, "http://minio:9000", "path"), (None, "", "auto"),
     (False, "http://minio:9000", "auto")],
)
def test_addressing_style(use_path, endpoint, style):
    """AGFS's use_path_request_style decides; unset, a custom endpoint means path-style as in
    the original."""
    config = validate_config("s3fs", S3FS.config_schema, {
        "bucket": "b", "endpoint": endpoint, "use_path_request_style": use_path,
    })
    assert S3FS(config)._addressing_style() == style
