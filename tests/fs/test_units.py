"""Unit tests of the contract's pure helpers: paths, Go time/duration text, config schemas."""

from __future__ import annotations

import pytest

from pfs.fs import Field, InvalidArgument, WriteFlag, apply_write, normalize, read_range
from pfs.fs.config import parse_size, validate_config
from pfs.fs.fileinfo import parse_time_ns
from pfs.fs.gotime import format_duration, format_rfc3339nano


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", "/"),
        ("/", "/"),
        ("a", "/a"),
        ("/a/", "/a"),
        ("//a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/../../etc", "/etc"),
        ("/..", "/"),
        ("../x/..", "/"),
        ("/.hidden", "/.hidden"),
        ("///", "/"),
    ],
)
def test_normalize(raw, clean):
    assert normalize(raw) == clean


def test_normalize_refuses_nul():
    with pytest.raises(InvalidArgument):
        normalize("/a\x00b")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (1736908245_000000000, "2025-01-15T02:30:45Z"),
        (1736908245_500000000, "2025-01-15T02:30:45.5Z"),
        (1736908245_123456789, "2025-01-15T02:30:45.123456789Z"),
    ],
)
def test_rfc3339nano_utc(monkeypatch, ns, text):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    assert format_rfc3339nano(ns) == text
    assert parse_time_ns(text) == ns


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (250_000, "250µs"),
        (1_500_000, "1.5ms"),
        (42_123456789, "42.123456789s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (3_605_000_000_000, "1h0m5s"),
        (330_000_000_001, "5m30.000000001s"),
    ],
)
def test_go_duration(ns, text):
    assert format_duration(ns) == text


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10MB", 10 << 20),
        ("512 kb", 512 << 10),
        ("1.5GB", 3 << 29),
        (4096, 4096),
        ("7", 7),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_rejects():
    with pytest.raises(ValueError, match="invalid size format"):
        parse_size("lots")


SCHEMA = (
    Field("name", "string", required=True),
    Field("count", "int", default=3),
    Field("on", "bool", default=False),
    Field("port", "port", default=80),
    Field("kind", "string", default="a", choices=("a", "b")),
)


def test_validate_config_fills_defaults():
    assert validate_config("demo", SCHEMA, {"name": "x", "port": "8080"}) == {
        "mount_path": "",
        "name": "x",
        "count": 3,
        "on": False,
        "port": 8080,
        "kind": "a",
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "demo: name is required in configuration"),
        ({"name": "x", "extra": 1}, "demo: unknown configuration parameter 'extra'"),
        ({"name": 5}, "demo: config key 'name' must be a string, got int 5"),
        ({"name": "x", "count": 1.5}, "config key 'count' must be an integer"),
        ({"name": "x", "on": "yes"}, "config key 'on' must be a boolean"),
        ({"name": "x", "port": 70000}, "config key 'port' must be a port number"),
        ({"name": "x", "kind": "c"}, "config key 'kind' must be one of a, b"),
    ],
)
def test_validate_config_rejects(config, message):
    with pytest.raises(InvalidArgument, match=message.replace(".", r"\.")):
        validate_config("demo", SCHEMA, config)


def test_apply_write_and_read_range():
    assert apply_write(b"hello", b"J", 0, WriteFlag.CREATE) == b"Jello"
    assert apply_write(b"hello", b"!", 0, WriteFlag.APPEND) == b"hello!"
    assert apply_write(b"hi", b"x", 4, WriteFlag.NONE) == b"hi\x00\x00x"
    assert apply_write(b"old", b"new", 0, WriteFlag.CREATE | WriteFlag.TRUNCATE) == b"new"
    assert read_range(b"abcdef", 2, 2) == b"cd"
    assert read_range(b"abcdef", -3, -1) == b"abcdef"
    assert read_range(b"abc", 5, 1) == b""
