"""kvfs on redis and nats beyond the shared backend suite: on redis keys expire through
``/ttl/<key>`` (read the seconds left, write seconds to set, 0 to keep the key for ever), writes
keep a key's expiry, other back ends refuse it (501); on both the engine going away behind a TCP
relay answers 503 naming the address, and the keys are all there once it is back."""

from __future__ import annotations

import time

import httpx
import pytest

from pfs.testing.engines import ENGINES, REDIS
from pfs.testing.mariadb import TcpRelay
from tests.helpers.queuefs import require_engine, scratch_database


@pytest.fixture
def api(start_server):
    require_engine("redis")
    with REDIS.scratch_prefix() as prefix:
        proc = start_server({"plugins": {"kvfs": {"enabled": True, "path": "/kv",
                                                  "config": REDIS.config(prefix)}}})
        with httpx.Client(base_url=proc.api) as client:
            yield client


def put(api: httpx.Client, path: str, data: bytes) -> httpx.Response:
    return api.put("/files", params={"path": f"/kv/{path}"}, content=data)


def get(api: httpx.Client, path: str) -> httpx.Response:
    return api.get("/files", params={"path": f"/kv/{path}"})


def names(api: httpx.Client, path: str) -> list[str]:
    return [f["name"] for f in api.get("/directories", params={"path": path}).json()["files"]]


def test_ttl_set_read_kept_by_writes_and_removed(api):
    assert put(api, "keys/session", b"abc").status_code == 200
    assert get(api, "ttl/session").text == "0"
    assert put(api, "ttl/session", b"60").status_code == 200
    left = float(get(api, "ttl/session").text)
    assert 0 < left <= 60
    # Writing the value (whole or in part) keeps its expiry.
    assert put(api, "keys/session", b"abcd").status_code == 200
    assert 0 < float(get(api, "ttl/session").text) <= 60
    assert names(api, "/kv/ttl") == ["session"]
    assert "ttl" in names(api, "/kv")
    assert put(api, "ttl/session", b"0").status_code == 200
    assert get(api, "ttl/session").text == "0"
    assert get(api, "keys/session").content == b"abcd"


def test_a_key_expires_and_leaves_the_listing(api):
    put(api, "keys/short", b"x")
    put(api, "keys/stays", b"y")
    assert put(api, "ttl/short", b"0.2").status_code == 200
    deadline = time.monotonic() + 30
    while get(api, "keys/short").status_code != 404:
        assert time.monotonic() < deadline, "the key never expired"
        time.sleep(0.05)
    listing = api.get("/directories", params={"path": "/kv/keys"}).json()["files"]
    assert [f["name"] for f in listing] == ["stays"]
    assert get(api, "ttl/short").status_code == 404


def test_bad_ttls_are_refused_and_change_nothing(api):
    put(api, "keys/k", b"v")
    put(api, "ttl/k", b"100")
    for bad in (b"-1", b"soon", b"", b"99999999999"):
        r = put(api, "ttl/k", bad)
        assert r.status_code == 400 and "invalid ttl" in r.json()["error"], bad
    assert 0 < float(get(api, "ttl/k").text) <= 100
    r = put(api, "ttl/ghost", b"10")
    assert r.status_code == 404
    assert get(api, "keys/ghost").status_code == 404
    assert get(api, "ttl/ghost").status_code == 404


def test_other_backends_refuse_ttl_with_501(start_server):
    proc = start_server({"plugins": {"kvfs": {"enabled": True, "path": "/kv",
                                              "config": {"backend": "memory"}}}})
    with httpx.Client(base_url=proc.api) as api:
        put(api, "keys/k", b"v")
        r = put(api, "ttl/k", b"10")
        assert r.status_code == 501 and "redis" in r.json()["error"], r.text
        assert get(api, "ttl/k").status_code == 501
        assert get(api, "keys/k").content == b"v"
        listing = api.get("/directories", params={"path": "/kv"}).json()["files"]
        assert "ttl" not in [f["name"] for f in listing]


@pytest.mark.parametrize("engine", ["redis", "nats"])
def test_engine_away_is_503_and_keys_are_kept(engine, start_server):
    server = ENGINES[engine]
    relay = TcpRelay(server.host, server.port)
    try:
        with scratch_database(engine, "kv_outage") as prefix:
            config = {**server.config(prefix), "url": f"{engine}://127.0.0.1:{relay.port}",
                      "query_timeout": 2, "connect_timeout": 2}
            proc = start_server({"plugins": {"kvfs": {"enabled": True, "path": "/kv",
                                                      "config": config}}})
            address = f"127.0.0.1:{relay.port}"
            with httpx.Client(base_url=proc.api, timeout=30) as api:
                for i in range(5):
                    assert put(api, f"keys/k{i}", f"v{i}".encode()).status_code == 200
                relay.cut()
                for r in (put(api, "keys/k9", b"lost?"), get(api, "keys/k0"),
                          api.get("/directories", params={"path": "/kv/keys"})):
                    assert r.status_code == 503 and address in r.json()["error"], r.text
                relay.restore()
                deadline = time.monotonic() + 30
                while get(api, "keys/k0").status_code != 200:
                    assert time.monotonic() < deadline, "the server did not reconnect"
                    time.sleep(0.1)
                assert [get(api, f"keys/k{i}").content for i in range(5)] == [
                    f"v{i}".encode() for i in range(5)
                ]
                assert get(api, "keys/k9").status_code == 404
    finally:
        relay.close()
