"""A config file written for AGFS starts this server unchanged: its server keys, both plugin
forms with named instances, disabled entries of plugins we do not have, AGFS's s3fs, httpfs and
external_plugins.wasm keys, and string values where numbers and booleans are meant."""

from __future__ import annotations

import pytest
import yaml

from pfs.fs import WRITE_LIMIT, Field, InvalidArgument
from pfs.fs.config import validate_config
from pfs.plugins.registry import builtin_registry
from pfs.server.config import ConfigError, settings_from_dict
from pfs.testing.moto import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from pfs.testing.server import ServerProcess, free_port

# The shape and keys of AGFS's config.example.yaml (our own values and layout).
AGFS_CONFIG = """
server:
  address: ":8080"
  log_level: info
  max_request_body_bytes: 1048576

plugins:
  serverinfofs:
    enabled: true
    path: /serverinfo
    config:
      version: "1.0.0"

  queuefs:
    enabled: true
    path: /queuefs
    config: {{}}

  localfs:
    enabled: true
    path: /local
    config:
      local_dir: {local_dir}

  localfs_spare:
    enabled: false
    path: /spare
    config:
      local_dir: /nonexistent

  memfs:
    enabled: true
    path: /memfs
    config:
      init_dirs:
        - /home
        - /tmp

  kvfs:
    enabled: true
    path: /kvfs
    config:
      initial_data:
        welcome: "hello from an AGFS config"

  sqlfs:
    - name: local
      enabled: true
      path: /sqlfs
      config:
        backend: sqlite
        db_path: {sqlfs_db}
        cache_enabled: true
        cache_max_size: 1000
        cache_ttl_seconds: 5
    - name: tidb
      enabled: false
      path: /sqlfs_tidb
      config:
        backend: tidb
        dsn: "user:pass@tcp(tidb.example:4000)/db?charset=utf8mb4&tls=tidb"

  proxyfs:
    - name: remote1
      enabled: false
      path: /proxyfs/remote1
      config:
        base_url: "http://localhost:9090/api/v1"

  s3fs:
    - name: aws
      enabled: true
      path: /s3fs/aws
      config:
        region: {region}
        bucket: {bucket}
        access_key_id: {access_key}
        secret_access_key: {secret_key}
        endpoint: {endpoint}
        prefix: agfs/
        use_path_request_style: true
        cache_enabled: true
        cache_ttl: "30s"
        stat_cache_ttl: 60
        cache_max_size: "1000"

  httpfs:
    - name: httpfs-memfs
      enabled: true
      path: /httpfs-memfs
      config:
        agfs_path: /memfs
        port: "{http_port}"
    - name: httpfs-queue
      enabled: false
      path: /httpfs-queue
      config:
        agfs_path: /queuefs
        port: "9001"

  vectorfs:
    enabled: false
    path: /vectorfs
    config:
      s3_bucket: "some-bucket"
      embedding_dim: 1536

external_plugins:
  enabled: false
  plugin_dir: ./plugins
  auto_load: false
  plugin_paths: []
  wasm:
    instance_pool_size: 4
    instance_max_lifetime: 300
    instance_max_requests: 1000
    health_check_interval: 30
    enable_pool_statistics: false
"""


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as running:
        yield running


def agfs_config(tmp_path, moto: MotoServer | None = None, bucket: str = "b") -> str:
    (tmp_path / "local").mkdir(exist_ok=True)
    return AGFS_CONFIG.format(
        local_dir=tmp_path / "local",
        sqlfs_db=tmp_path / "sqlfs.db",
        region=REGION,
        bucket=bucket,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        endpoint=moto.endpoint if moto else "http://127.0.0.1:1",
        http_port=free_port(),
    )


def test_agfs_example_config_starts_the_server(tmp_path, moto):
    bucket = "agfs-example"
    moto.client().create_bucket(Bucket=bucket)
    moto.client().put_object(Bucket=bucket, Key="__PREFIX__agfs__/from-agfs.txt", Body=b"old")
    config = tmp_path / "agfs.yaml"
    config.write_text(agfs_config(tmp_path, moto, bucket))
    with ServerProcess(extra_args=["-c", str(config)], discover_config=True) as proc:
        import httpx

        with httpx.Client(base_url=proc.api, timeout=30) as api:
            listed = api.get("/mounts").json()["mounts"]
            assert all(m["status"] == "mounted" for m in listed), listed
            assert api.get("/ready").status_code == 200
            mounts = {m["path"] for m in listed}
            assert {"/serverinfo", "/queuefs", "/local", "/memfs", "/kvfs", "/sqlfs",
                    "/s3fs/aws", "/httpfs-memfs"} <= mounts
            assert not mounts & {"/spare", "/sqlfs_tidb", "/proxyfs/remote1", "/vectorfs"}
            read = api.get("/files", params={"path": "/kvfs/keys/welcome"})
            assert read.content == b"hello from an AGFS config"
            # AGFS's s3fs wrote under the wrapped prefix: readable as it is.
            read = api.get("/files", params={"path": "/s3fs/aws/from-agfs.txt"})
            assert read.content == b"old"
            # max_request_body_bytes (1 MiB here) caps the bodies a plugin must buffer.
            r = api.put("/files", params={"path": "/kvfs/keys/big"}, content=b"x" * ((1 << 20) + 1))
            assert r.status_code == 413 and "1048576" in r.text
            r = api.put("/files", params={"path": "/kvfs/keys/fits"}, content=b"x" * (1 << 20))
            assert r.status_code == 200, r.text
            # Streamed uploads are not held in memory, so not capped by it.
            r = api.put("/files", params={"path": "/memfs/tmp/big"},
                        content=iter([b"y" * (1 << 20)] * 3))
            assert r.status_code == 200, r.text


def settings(text: str):
    return settings_from_dict(yaml.safe_load(text), builtin_registry())


def test_agfs_keys_map_onto_ours(tmp_path):
    loaded = settings(agfs_config(tmp_path))
    assert loaded.address == "0.0.0.0:8080" and loaded.max_body_bytes == 1 << 20
    mounts = {m["path"]: m for m in loaded.mounts}
    assert mounts["/httpfs-memfs"]["config"]["agfs_path"] == "/memfs"
    assert set(mounts) == {"/serverinfo", "/queuefs", "/local", "/memfs", "/kvfs", "/sqlfs",
                           "/s3fs/aws", "/httpfs-memfs"}
    # AGFS: 0 or less means its default, 64 MiB, which is ours too.
    assert settings("server: {max_request_body_bytes: 0}").max_body_bytes == WRITE_LIMIT
    assert settings("server: {max_request_body_bytes: 64MB}").max_body_bytes == 64 << 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server: {max_request_body_bytes: 10MB, max_body_bytes: 10MB}",
         "max_body_bytes and max_request_body_bytes (AGFS's name) set the same limit"),
        ("server: {max_request_body_bytes: lots}", "server.max_request_body_bytes: invalid size"),
        ("server: {max_request_bytes: 10}", "server: unknown key(s) max_request_bytes"),
        ("plugins: {s3fs: {enabled: true, path: /s3, config: {bucket: b, cache_ttl: soon}}}",
         "cache_ttl"),
        ("plugins: {s3fs: {enabled: true, path: /s3, config: {bucket: b, cache: true}}}",
         "unknown configuration parameter 'cache'"),
        ("plugins: {httpfs: {enabled: true, path: /h, config: {agfs_pth: /memfs}}}",
         "unknown configuration parameter 'agfs_pth'"),
        ("plugins: {httpfs: {enabled: true, path: /h, config: {port: 1}}}",
         "httpfs: pfs_path is required in configuration"),
        ("plugins: {httpfs: {enabled: true, path: /h, config: {pfs_path: /a, agfs_path: /a}}}",
         "httpfs: pfs_path and agfs_path are the same key; keep one"),
        ("plugins: {queuefs: {enabled: true, path: /q, config: {layout: go}}}",
         "config key 'layout' must be one of auto, pfs, agfs"),
        ("external_plugins: {wasm: {instance_pool_sz: 4}}", "external_plugins.wasm: unknown key"),
    ],
)
def test_unknown_or_bad_keys_are_refused(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings(text)


def test_httpfs_takes_agfs_path_or_pfs_path_once(api):
    r = api.post("/mount", json={"fstype": "httpfs", "path": "/h-both", "config": {
        "pfs_path": "/memfs", "agfs_path": "/memfs", "port": free_port()}})
    assert r.status_code == 400 and "keep one" in r.json()["error"]
    r = api.post("/mount", json={"fstype": "httpfs", "path": "/h-none", "config": {}})
    assert r.status_code == 400 and "pfs_path is required" in r.json()["error"]


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [("int", "9000", 9000), ("int", " -3 ", -3), ("number", "1.5", 1.5), ("number", "2", 2),
     ("bool", "false", False), ("bool", "TRUE", True), ("bool", "1", True), ("bool", "f", False),
     ("size", "8MB", 8 << 20), ("port", "9000", 9000), ("duration", "5m", 300.0)],
)
def test_string_values_of_typed_keys_are_read(kind, text, value):
    """AGFS's shell sends every mount value as a string; typed keys read the text."""
    schema = (Field("k", kind),)
    assert validate_config("demo", schema, {"k": text})["k"] == value


@pytest.mark.parametrize(
    ("kind", "text"),
    [("int", "9.5"), ("int", "nine"), ("int", "0x10"), ("number", "nan"), ("number", "1e"),
     ("bool", "yes"), ("bool", ""), ("bool", "on")],
)
def test_strings_that_are_not_such_values_are_refused(kind, text):
    with pytest.raises(InvalidArgument, match=f"config key 'k' must be .*, got str {text!r}"):
        validate_config("demo", (Field("k", kind),), {"k": text})
