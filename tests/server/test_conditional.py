"""Conditional HTTP on /api/v1/files (issue 15 item 2): ETag and Last-Modified on reads, HEAD,
304 for If-None-Match/If-Modified-Since, 412 for If-Match/If-Unmodified-Since on PUT and DELETE
as a compare-and-swap per plugin (two writers racing: one wins, the other 412), Allow on 405."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import httpx
import pytest

from pfs.client import AsyncClient, Client, PreconditionFailed
from pfs.testing.engines import NATS, REDIS
from pfs.testing.mariadb import MariaDB
from pfs.testing.moto import MotoServer
from pfs.testing.postgres import Postgres
from pfs.testing.server import ServerProcess

#: The plugins whose writes compare and swap, by the directory the tests write in.
CAS_MOUNTS = [
    "/memfs",
    "/local",
    "/sql",
    "/sql-mysql",
    "/sql-pg",
    "/kv/keys",
    "/kv-mysql/keys",
    "/kv-pg/keys",
    "/kv-redis/keys",
    "/kv-nats/keys",
    "/s3",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("conditional")
    (base / "local").mkdir()
    config = {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "localfs": {
                "enabled": True,
                "path": "/local",
                "config": {"local_dir": str(base / "local")},
            },
            "queuefs": {"enabled": True, "path": "/queue"},
            "hellofs": {"enabled": True, "path": "/hello"},
        }
    }
    mariadb = MariaDB()
    unreachable = mariadb.reachable()
    assert unreachable is None, unreachable  # the MariaDB variants are part of the claim
    postgres = Postgres()
    unreachable = postgres.reachable()
    assert unreachable is None, unreachable  # and the PostgreSQL ones
    with (
        MotoServer() as moto,
        mariadb.scratch_database("pfs_cond") as database,
        postgres.scratch_database("pfs_cond") as pg_database,
        REDIS.scratch_prefix() as redis_prefix,
        NATS.scratch_prefix() as nats_prefix,
        ServerProcess(config) as proc,
        httpx.Client(base_url=proc.api, timeout=60) as api,
    ):
        moto.client().create_bucket(Bucket="cond")
        mounts = {
            "/sql": ("sqlfs", {"backend": "sqlite", "db_path": str(base / "sqlfs.db")}),
            "/sql-mysql": ("sqlfs", {"backend": "mysql", **mariadb.config(database)}),
            "/kv": ("kvfs", {"backend": "sqlite", "db_path": str(base / "kv.db")}),
            "/kv-mysql": ("kvfs", {"backend": "mysql", **mariadb.config(database)}),
            "/sql-pg": ("sqlfs", postgres.config(pg_database)),
            "/kv-pg": ("kvfs", postgres.config(pg_database)),
            "/kv-redis": ("kvfs", REDIS.config(redis_prefix)),
            "/kv-nats": ("kvfs", NATS.config(nats_prefix)),
            "/s3": ("s3fs", moto.mount_config("cond")),
        }
        for path, (fstype, mount_config) in mounts.items():
            answer = api.post(
                "/mount", json={"fstype": fstype, "path": path, "config": mount_config}
            )
            assert answer.status_code == 200, answer.text
        proc.moto = moto
        proc.shared_mounts = {path: mounts[path] for path in ("/sql-mysql", "/kv-mysql")}
        yield proc


def put(api, path: str, body: bytes, **headers: str) -> httpx.Response:
    return api.put("/files", params={"path": path}, content=body, headers=headers)


def etag_of(api, path: str) -> str:
    response = api.head("/files", params={"path": path})
    assert response.status_code == 200, response.text
    return response.headers["etag"]


@pytest.mark.parametrize("mount", CAS_MOUNTS)
def test_reads_carry_etag_and_last_modified_and_head_matches_get(api, mount):
    path = f"{mount}/tagged.txt"
    assert put(api, path, b"hello").status_code == 200
    got = api.get("/files", params={"path": path})
    assert got.status_code == 200 and got.content == b"hello"
    tag = got.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert got.headers["last-modified"].endswith(" GMT")
    head = api.head("/files", params={"path": path})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == tag
    assert head.headers["last-modified"] == got.headers["last-modified"]
    assert head.headers["content-length"] == "5"
    assert head.headers["accept-ranges"] == "bytes"
    assert put(api, path, b"world").status_code == 200
    assert etag_of(api, path) != tag
    if mount != "/s3":  # S3's own ETag is the content's MD5: the same bytes, the same tag
        # Same content rewritten is another version: the tag changes.
        tag = etag_of(api, path)
        assert put(api, path, b"world").status_code == 200
        assert etag_of(api, path) != tag


@pytest.mark.parametrize("mount", CAS_MOUNTS)
def test_if_none_match_and_if_modified_since_answer_304(api, mount):
    path = f"{mount}/cached.txt"
    put(api, path, b"cached")
    tag = etag_of(api, path)
    for method in (api.get, api.head):
        answer = method("/files", params={"path": path}, headers={"If-None-Match": tag})
        assert answer.status_code == 304 and answer.content == b""
        assert answer.headers["etag"] == tag
        weak = method("/files", params={"path": path}, headers={"If-None-Match": "W/" + tag})
        assert weak.status_code == 304  # If-None-Match compares weakly
        other = method("/files", params={"path": path}, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200
    later = formatdate(4102444800, usegmt=True)  # 2100
    assert api.get(
        "/files", params={"path": path}, headers={"If-Modified-Since": later}
    ).status_code == 304
    earlier = formatdate(946684800, usegmt=True)  # 2000
    answer = api.get("/files", params={"path": path}, headers={"If-Modified-Since": earlier})
    assert answer.status_code == 200 and answer.content == b"cached"
    # A range read carries the tag too, and If-None-Match wins over the range.
    ranged = api.get("/files", params={"path": path}, headers={"Range": "bytes=0-1"})
    assert ranged.status_code == 206 and ranged.headers["etag"] == tag


@pytest.mark.parametrize("mount", CAS_MOUNTS)
def test_if_match_put_and_delete_answer_412_when_the_file_changed(api, mount):
    path = f"{mount}/guarded.txt"
    put(api, path, b"one")
    old = etag_of(api, path)
    assert put(api, path, b"two", **{"If-Match": old}).status_code == 200
    stale = put(api, path, b"three", **{"If-Match": old})
    assert stale.status_code == 412, stale.text
    assert stale.headers["x-pfs-error-kind"] == "PreconditionFailed"
    assert "precondition failed" in stale.json()["error"]
    assert api.get("/files", params={"path": path}).content == b"two"  # unchanged
    assert api.get(
        "/files", params={"path": path}, headers={"If-Match": old}
    ).status_code == 412
    # If-Unmodified-Since long ago: 412; far ahead: allowed.
    past = formatdate(946684800, usegmt=True)
    assert put(api, path, b"x", **{"If-Unmodified-Since": past}).status_code == 412
    # Create only if absent: If-None-Match: *.
    assert put(api, path, b"x", **{"If-None-Match": "*"}).status_code == 412
    fresh = f"{mount}/fresh.txt"
    assert put(api, fresh, b"new", **{"If-None-Match": "*"}).status_code == 200
    # If-Match on a missing file: 412, nothing created.
    assert put(api, f"{mount}/missing.txt", b"x", **{"If-Match": old}).status_code == 412
    assert api.get("/stat", params={"path": f"{mount}/missing.txt"}).status_code == 404
    # DELETE: a stale tag keeps the file, the current one removes it.
    gone = api.delete("/files", params={"path": path}, headers={"If-Match": old})
    assert gone.status_code == 412
    assert api.get("/files", params={"path": path}).content == b"two"
    current = etag_of(api, path)
    removed = api.delete("/files", params={"path": path}, headers={"If-Match": current})
    assert removed.status_code == 200
    assert api.get("/stat", params={"path": path}).status_code == 404


@pytest.mark.parametrize("mount", CAS_MOUNTS)
def test_two_writers_racing_with_if_match_one_wins_the_other_412(server, api, mount):
    """Writer A's body is held back until writer B (same If-Match) has finished: B wins and A's
    check when its body is complete fails, so A learns of B's write instead of erasing it."""
    path = f"{mount}/raced.txt"
    put(api, path, b"base")
    tag = etag_of(api, path)
    released = threading.Event()

    def held_body():
        yield b"A" * 10
        released.wait(30)
        yield b"A" * 10

    def writer_a():
        with httpx.Client(base_url=server.api, timeout=60) as client:
            return put(client, path, held_body(), **{"If-Match": tag})

    with ThreadPoolExecutor(1) as pool:
        a = pool.submit(writer_a)
        b = put(api, path, b"B" * 20, **{"If-Match": tag})
        released.set()
        a_answer = a.result()
    assert b.status_code == 200, b.text
    assert a_answer.status_code == 412, a_answer.text
    assert api.get("/files", params={"path": path}).content == b"B" * 20


@pytest.mark.parametrize("mount", CAS_MOUNTS)
def test_many_writers_with_one_tag_exactly_one_wins(server, api, mount):
    path = f"{mount}/burst.txt"
    put(api, path, b"base")
    tag = etag_of(api, path)

    def write(n: int) -> tuple[int, bytes]:
        with httpx.Client(base_url=server.api, timeout=60) as client:
            body = b"%02d" % n * 1000
            return put(client, path, body, **{"If-Match": tag}).status_code, body

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(8)))
    winners = [body for status, body in results if status == 200]
    assert sorted(status for status, _ in results) == [200] + [412] * 7
    assert api.get("/files", params={"path": path}).content == winners[0]


@pytest.mark.parametrize("mount", ["/sql-mysql/two", "/kv-mysql/keys/two"])
def test_writers_on_two_servers_sharing_mariadb_one_wins(server, api, start_server, mount):
    """The swap is checked in the database's transaction, so it holds across servers too."""
    other = start_server({"plugins": {}})
    with httpx.Client(base_url=other.api, timeout=60) as other_api:
        for path, (fstype, mount_config) in server.shared_mounts.items():
            answer = other_api.post(
                "/mount", json={"fstype": fstype, "path": path, "config": mount_config}
            )
            assert answer.status_code == 200, answer.text
    path = f"{mount}.txt"
    put(api, path, b"base")
    tag = etag_of(api, path)

    def write(n: int) -> tuple[int, bytes, str]:
        target = (server if n % 2 else other).api
        with httpx.Client(base_url=target, timeout=60) as client:
            body = b"%02d" % n * 500
            return put(client, path, body, **{"If-Match": tag}).status_code, body, target

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(8)))
    assert sorted(status for status, _, _ in results) == [200] + [412] * 7
    winner, where = next((body, target) for status, body, target in results if status == 200)
    # Read where it won: the other server's sqlfs may answer from its metadata cache a while.
    assert httpx.get(where + "/files", params={"path": path}).content == winner


def test_s3fs_copies_inside_the_bucket_without_reading_the_object(server, api):
    """Within one s3fs mount /copy is S3's CopyObject: the source object is never downloaded."""
    body = os.urandom(100_000)
    put(api, "/s3/copy-src.bin", body)
    gets_before = server.moto.log().count("GET /cond/copy-src.bin")
    answer = api.post("/copy", json={"path": "/s3/copy-src.bin", "newPath": "/s3/copy-dst.bin"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == len(body)
    assert server.moto.log().count("GET /cond/copy-src.bin") == gets_before
    assert api.get("/files", params={"path": "/s3/copy-dst.bin"}).content == body
    # Across mounts the bytes are streamed through the server.
    across = api.post("/copy", json={"path": "/s3/copy-src.bin", "newPath": "/memfs/from-s3"})
    assert across.status_code == 200, across.text
    assert server.moto.log().count("GET /cond/copy-src.bin") == gets_before + 1
    assert api.get("/files", params={"path": "/memfs/from-s3"}).content == body


def test_a_read_effect_file_has_no_tag_and_head_never_consumes_it(api):
    api.post("/directories", params={"path": "/queue/jobs"})
    api.put("/files", params={"path": "/queue/jobs/enqueue"}, content=b"job-1")
    head = api.head("/files", params={"path": "/queue/jobs/dequeue"})
    assert head.status_code == 200 and "etag" not in head.headers
    assert api.get("/files", params={"path": "/queue/jobs/size"}).content.strip() == b"1"
    taken = api.get("/files", params={"path": "/queue/jobs/dequeue"})
    assert taken.status_code == 200 and b"job-1" in taken.content
    assert "etag" not in taken.headers


def test_plugins_without_compare_and_swap_answer_501(api):
    answer = api.delete("/files", params={"path": "/hello/hello"}, headers={"If-Match": "*"})
    assert answer.status_code == 501, answer.text
    assert "conditional remove" in answer.json()["error"]


@pytest.mark.parametrize("mount", ["/local", "/sql", "/s3"])
def test_conditional_writes_in_place_are_refused_where_only_whole_files_swap(api, mount):
    path = f"{mount}/whole.txt"
    put(api, path, b"whole")
    tag = etag_of(api, path)
    answer = api.put(
        "/files", params={"path": path, "offset": "2"}, content=b"XX", headers={"If-Match": tag}
    )
    assert answer.status_code == 501, answer.text
    assert api.get("/files", params={"path": path}).content == b"whole"
    assert etag_of(api, path) == tag


def test_head_of_a_directory_and_of_a_missing_file(api):
    assert api.head("/files", params={"path": "/memfs"}).status_code == 400
    assert api.head("/files", params={"path": "/memfs/none"}).status_code == 404


def test_capabilities_name_copy_conditional_and_which_plugins_swap(api):
    answer = api.get("/capabilities").json()
    assert {"copy", "conditional"} <= set(answer["features"])
    for mount in CAS_MOUNTS:
        asked = api.get("/capabilities", params={"path": mount}).json()
        assert asked["supportsConditionalWrite"], mount
    assert not api.get("/capabilities", params={"path": "/hello"}).json()[
        "supportsConditionalWrite"
    ]


def test_405_names_the_allowed_methods(api):
    answer = api.patch("/files", params={"path": "/memfs/x"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, PUT, POST, DELETE"
    assert api.put("/stat", params={"path": "/"}).headers["allow"] == "GET"
    assert api.post("/version").headers["allow"] == "GET"


def test_sdk_if_match_on_write_and_rm(server):
    with Client(server.url) as client:
        client.write("/memfs/sdk.txt", b"v1")
        tag = client.etag("/memfs/sdk.txt")
        assert tag.startswith('"')
        client.write("/memfs/sdk.txt", b"v2", if_match=tag)
        with pytest.raises(PreconditionFailed):
            client.write("/memfs/sdk.txt", b"v3", if_match=tag)
        with pytest.raises(PreconditionFailed):
            client.rm("/memfs/sdk.txt", if_match=tag)
        assert client.cat("/memfs/sdk.txt") == b"v2"
        client.rm("/memfs/sdk.txt", if_match=client.etag("/memfs/sdk.txt"))
        assert not client.exists("/memfs/sdk.txt")


async def test_async_sdk_if_match(server):
    async with AsyncClient(server.url) as client:
        await client.write("/local/async.txt", b"v1")
        tag = await client.etag("/local/async.txt")
        await client.write("/local/async.txt", b"v2", if_match=tag)
        with pytest.raises(PreconditionFailed):
            await client.write("/local/async.txt", b"v3", if_match=tag)
        assert await client.cat("/local/async.txt") == b"v2"
