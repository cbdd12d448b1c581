"""The redis/nats connection keys (pfs.engines.options) and the refusals a mount gets for bad
ones: a wrong URL scheme or a NATS key_prefix that cannot name a stream is 400, nothing mounted."""

from __future__ import annotations

import httpx
import pytest

from pfs.engines import engine_options
from pfs.fs import InvalidArgument


def test_url_host_port_tls_and_defaults():
    options = engine_options("redis", {}, "pfs:queuefs:")
    assert (options.url, options.address, options.prefix, options.tls) == (
        "redis://127.0.0.1:6379", "127.0.0.1:6379", "pfs:queuefs:", False)
    options = engine_options("nats", {"host": "10.0.0.5", "port": 4333, "token": "t"}, "p")
    assert (options.url, options.address, options.token) == ("nats://10.0.0.5:4333",
                                                             "10.0.0.5:4333", "t")
    options = engine_options("redis", {"url": "rediss://:pw@cache:6380/2"}, "x")
    assert (options.tls, options.address) == (True, "cache:6380")
    assert options.ssl_context() is not None
    options = engine_options("nats", {"url": "tls://a:4222, tls://b:4222"}, "x")
    assert (options.tls, options.address) == (True, "a:4222")
    assert engine_options("redis", {"enable_tls": True}, "x").tls
    assert "pw" not in repr(engine_options("redis", {"password": "pw"}, "x"))


def test_a_wrong_scheme_is_refused():
    with pytest.raises(InvalidArgument, match="use redis:// or rediss://"):
        engine_options("redis", {"url": "http://cache:6379"}, "x")
    with pytest.raises(InvalidArgument, match="use nats:// or tls://"):
        engine_options("nats", {"url": "redis://cache"}, "x")


@pytest.mark.parametrize(("fstype", "config", "words"), [
    ("queuefs", {"backend": "redis", "url": "mysql://x"}, "redis://"),
    ("queuefs", {"backend": "nats", "key_prefix": "a.b"}, "invalid key_prefix"),
    ("kvfs", {"backend": "nats", "key_prefix": "a b"}, "invalid key_prefix"),
])
def test_bad_engine_config_is_400_and_mounts_nothing(start_server, fstype, config, words):
    proc = start_server(None)
    with httpx.Client(base_url=proc.api) as api:
        r = api.post("/mount", json={"fstype": fstype, "path": "/bad", "config": config})
        assert r.status_code == 400 and words in r.json()["error"], r.text
        assert api.get("/stat", params={"path": "/bad"}).status_code == 404
