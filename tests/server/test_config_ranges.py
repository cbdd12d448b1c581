"""Config values are range-checked, not only typed (issue 12 item 8): a value of the right type
but outside what the plugin can use is refused at mount (400) and at config load (exit 2), with
a message naming the plugin, the key, the value and the allowed range. A SQLite ``db_path`` that
is not a database is refused at mount the same way (issue 12 item 2)."""

from __future__ import annotations

import pytest
from test_config import run_server_expecting_failure

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture

server = server_fixture(MEMFS_ONLY)

PROXY = {"base_url": "http://127.0.0.1:1"}
MYSQL = {"backend": "mysql", "host": "127.0.0.1", "port": 1}


@pytest.mark.parametrize(
    ("fstype", "config", "expected"),
    [
        (
            "proxyfs",
            {**PROXY, "timeout": 0},
            "proxyfs: config key 'timeout' must be between 0.1 and 86400, got 0",
        ),
        (
            "proxyfs",
            {**PROXY, "timeout": 1e308},
            "proxyfs: config key 'timeout' must be between 0.1 and 86400, got 1e+308",
        ),
        (
            "streamfs",
            {"channel_buffer_size": "1TB"},
            "streamfs: config key 'channel_buffer_size' must be between 1KB and 1GB, got '1TB'",
        ),
        (
            "streamfs",
            {"ring_buffer_size": 100},
            "streamfs: config key 'ring_buffer_size' must be between 1KB and 1GB, got 100",
        ),
        (
            "streamfs",
            {"buffer_size": "2GB"},
            "streamfs: config key 'buffer_size' must be between 1KB and 1GB, got '2GB'",
        ),
        (
            "sqlfs",
            {"cache_max_size": -1},
            "sqlfs: config key 'cache_max_size' must be between 0 and 10000000, got -1",
        ),
        (
            "sqlfs",
            {"cache_ttl_seconds": -5},
            "sqlfs: config key 'cache_ttl_seconds' must be between 0 and 86400, got -5",
        ),
        (
            "sqlfs",
            {"max_file_size": "2TB"},
            "sqlfs: config key 'max_file_size' must be between 1B and 1TB, got '2TB'",
        ),
        (
            "sqlfs",
            {**MYSQL, "query_timeout": 0},
            "sqlfs: config key 'query_timeout' must be between 0.1 and 3600, got 0",
        ),
        (
            "kvfs",
            {**MYSQL, "connect_timeout": -1},
            "kvfs: config key 'connect_timeout' must be between 0.1 and 300, got -1",
        ),
        (
            "queuefs",
            {"visibility_timeout": 43201},
            "queuefs: config key 'visibility_timeout' must be between 0 and 43200, got 43201",
        ),
        (
            "queuefs",
            {"max_message_size": "2GB"},
            "queuefs: config key 'max_message_size' must be between 1B and 1GB, got '2GB'",
        ),
        (
            "kvfs",
            {"max_value_size": "2GB"},
            "kvfs: config key 'max_value_size' must be between 1B and 1GB, got '2GB'",
        ),
        (
            "memfs",
            {"max_file_size": 0},
            "memfs: config key 'max_file_size' must be a size",
        ),
        (
            "memfs",
            {"max_file_size": "1TB"},
            "memfs: config key 'max_file_size' must be between 1B and 64GB, got '1TB'",
        ),
        (
            "s3fs",
            {"bucket": "b", "part_size": "1MB"},
            "s3fs: config key 'part_size' must be between 5MB and 5GB, got '1MB'",
        ),
        (
            "s3fs",
            {"bucket": "b", "read_timeout": 0},
            "s3fs: config key 'read_timeout' must be between 0.1 and 3600, got 0",
        ),
    ],
)
def test_mount_refuses_out_of_range_values(api, fstype, config, expected):
    response = api.post("/mount", json={"fstype": fstype, "path": "/ranged", "config": config})
    assert response.status_code == 400, response.text
    assert expected in response.json()["error"]
    assert "/ranged" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


@pytest.mark.parametrize(
    ("fstype", "config"),
    [
        ("proxyfs", {"base_url": "{remote}", "timeout": 0.1}),
        ("streamfs", {"channel_buffer_size": "1KB", "ring_buffer_size": "1GB"}),
        ("sqlfs", {"cache_max_size": 0, "cache_ttl_seconds": 0, "db_path": "{tmp}/s.db"}),
        ("queuefs", {"visibility_timeout": 43200}),
    ],
)
def test_values_at_the_limits_are_accepted(api, server, tmp_path, fstype, config):
    # proxyfs proxies this very server; sqlfs gets a fresh database file.
    fill = {"remote": server.url, "tmp": tmp_path}
    config = {k: v.format(**fill) if isinstance(v, str) else v for k, v in config.items()}
    response = api.post("/mount", json={"fstype": fstype, "path": "/ranged", "config": config})
    assert response.status_code == 200, response.text
    assert api.post("/unmount", json={"path": "/ranged"}).status_code == 200


@pytest.mark.parametrize(
    ("fstype", "config", "expected"),
    [
        (
            "proxyfs",
            {**PROXY, "timeout": float("nan")},
            "proxyfs: config key 'timeout' must be between 0.1 and 86400, got nan",
        ),
        (
            "streamfs",
            {"buffer_size": "1TB"},
            "streamfs: config key 'buffer_size' must be between 1KB and 1GB, got '1TB'",
        ),
    ],
)
def test_config_file_with_out_of_range_value_never_starts(tmp_path, fstype, config, expected):
    mounts = {fstype: {"enabled": True, "path": "/ranged", "config": config}}
    result = run_server_expecting_failure(tmp_path, {"plugins": mounts})
    assert result.returncode == 2
    assert f"plugins.{fstype}: {expected}" in result.stderr, result.stderr


@pytest.mark.parametrize("fstype", ["kvfs", "queuefs", "sqlfs"])
def test_sqlite_db_path_that_is_not_a_database_is_400(api, tmp_path, fstype):
    text = tmp_path / "notes.txt"
    text.write_text("just some text, not a database\n")
    response = api.post(
        "/mount",
        json={
            "fstype": fstype,
            "path": "/ranged",
            "config": {"backend": "sqlite", "db_path": str(text)},
        },
    )
    assert response.status_code == 400, response.text
    assert f"db_path {text} is not a SQLite database" in response.json()["error"]
    assert text.read_text() == "just some text, not a database\n"

    response = api.post(
        "/mount",
        json={
            "fstype": fstype,
            "path": "/ranged",
            "config": {"backend": "sqlite", "db_path": str(tmp_path)},
        },
    )
    assert response.status_code == 400, response.text
    assert f"db_path {tmp_path} is a directory" in response.json()["error"]
