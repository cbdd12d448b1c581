"""Config file handling: validation at start-up, env substitution, read-only mounts, body limit."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml


def run_server_expecting_failure(tmp_path, config: dict, env=None) -> subprocess.CompletedProcess:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "pfs.server.cli", "-c", str(path), "-addr", "127.0.0.1:1"],
        capture_output=True, text=True, timeout=30, env=env,
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"plugins": {"memfs": {"enabled": True, "path": "/m", "config": {"bogus": 1}}}},
         "plugins.memfs: memfs: unknown configuration parameter 'bogus'"),
        ({"plugins": {"kvfs": {"enabled": True, "path": "/k", "config": {"initial_data": [1]}}}},
         "config key 'initial_data' must be a map"),
        ({"plugins": {"memfs": {"enabled": True, "path": "/m", "colour": "x"}}},
         "plugins.memfs: unknown key(s) colour"),
        ({"plugins": {"nosuchfs": {"enabled": True, "path": "/n"}}},
         "plugins.nosuchfs: unknown plugin 'nosuchfs'"),
        ({"server": {"adress": ":1"}}, "server: unknown key(s) adress"),
        ({"plugins": {"memfs": {"enabled": True}}}, "'path' must be a mount path other than /"),
        ({"server": {"auth": {"tokens": [{"token": "t", "role": "boss"}]}}},
         "server.auth.tokens[0].role: must be read, write or admin"),
        ({"plugins": {"memfs": {"enabled": True, "path": "/m",
                                "config": {"init_dirs": "${PFS_TEST_UNSET_VAR}"}}}},
         "environment variable PFS_TEST_UNSET_VAR is not set"),
        ({"server": {"max_open_handles": 0}},
         "server.max_open_handles: must be a whole number between 1 and 1000000, got 0"),
        ({"server": {"max_open_handles": "many"}}, "server.max_open_handles: must be a whole"),
        ({"plugins": {"memfs": {"enabled": True, "path": "/m"},
                      "kvfs": {"enabled": True, "path": "/m/"}}},
         "plugins.memfs: path /m is already plugins.kvfs's"),  # the YAML sorts the keys
        ({"plugins": {"memfs": [{"name": "a", "enabled": True, "path": "/m"},
                                {"name": "b", "enabled": True, "path": "/m"}]}},
         "plugins.memfs[1]: path /m is already plugins.memfs[0]'s"),
    ],
)
def test_bad_config_never_starts(tmp_path, config, expected):
    result = run_server_expecting_failure(tmp_path, config)
    assert result.returncode == 2
    assert expected in result.stderr, result.stderr


def test_missing_config_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pfs.server.cli", "-c", str(tmp_path / "none.yaml")],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "Failed to load config file" in result.stderr


def test_env_substitution_multi_instance_and_suffix_keys(start_server):
    srv = start_server(
        {"plugins": {
            "kvfs_team": {"enabled": True, "path": "/kv/${PFS_TEST_TEAM}",
                          "config": {"initial_data": {"secret": "${PFS_TEST_SECRET}"}}},
            "memfs": [
                {"name": "one", "enabled": True, "path": "/m1"},
                {"name": "two", "enabled": False, "path": "/m2"},
            ],
        }},
        env={"PFS_TEST_TEAM": "blue", "PFS_TEST_SECRET": "s3cr3t"},
    )
    api = srv.client()
    assert api.get("/files", params={"path": "/kv/blue/keys/secret"}).content == b"s3cr3t"
    paths = sorted(m["path"] for m in api.get("/mounts").json()["mounts"])
    assert paths == ["/dev", "/kv/blue", "/m1"]


def test_read_only_mount(start_server):
    srv = start_server({"plugins": {"memfs": [
        {"name": "rw", "enabled": True, "path": "/rw"},
        {"name": "ro", "enabled": True, "path": "/ro", "read_only": True,
         "config": {"init_dirs": ["/docs"]}},
    ]}})
    api = srv.client()
    assert api.get("/directories", params={"path": "/ro/docs"}).status_code == 200
    assert api.get("/files", params={"path": "/ro/README"}).status_code == 200
    for method, url, params, kwargs in [
        ("PUT", "/files", {"path": "/ro/x"}, {"content": b"x"}),
        ("POST", "/files", {"path": "/ro/x"}, {}),
        ("POST", "/directories", {"path": "/ro/d"}, {}),
        ("DELETE", "/files", {"path": "/ro/README"}, {}),
        ("POST", "/chmod", {"path": "/ro/README"}, {"json": {"mode": 0}}),
        ("POST", "/rename", {"path": "/ro/README"}, {"json": {"newPath": "/ro/R"}}),
    ]:
        r = api.request(method, url, params=params, **kwargs)
        assert r.status_code == 403, (method, url)
        assert "read-only mount /ro" in r.json()["error"]
    assert api.get("/files", params={"path": "/ro/x"}).status_code == 404
    assert api.put("/files", params={"path": "/rw/x"}, content=b"ok").status_code == 200
    r = api.post("/mount", json={"fstype": "memfs", "path": "/ro2", "config": {"read_only": True}})
    assert r.status_code == 200
    assert api.put("/files", params={"path": "/ro2/x"}, content=b"x").status_code == 403


def test_body_limit_answers_413_and_writes_nothing(start_server):
    srv = start_server({"server": {"max_body_bytes": "1KB"},
                        "plugins": {"kvfs": {"enabled": True, "path": "/kv"}}})
    api = srv.client()
    api.put("/files", params={"path": "/kv/keys/a"}, content=b"old")
    r = api.put("/files", params={"path": "/kv/keys/a"}, content=b"x" * 5000)
    assert r.status_code == 413 and "exceeds the limit of 1024 bytes" in r.json()["error"]

    def chunks():
        for _ in range(10):
            yield b"y" * 500

    r = api.put("/files", params={"path": "/kv/keys/a"}, content=chunks())
    assert r.status_code == 413
    assert api.get("/files", params={"path": "/kv/keys/a"}).content == b"old"
    assert api.put("/files", params={"path": "/kv/keys/a"}, content=b"z" * 1000).status_code == 200


def test_sample_config_is_valid(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pfs.server.cli", "--print-sample-config"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    sample = yaml.safe_load(out)
    assert {"memfs", "kvfs", "hellofs", "serverinfofs"} <= set(sample["plugins"])
    assert sample["plugins"]["memfs"]["config"] == {
        "init_dirs": [],
        "max_file_size": 1 << 30,
    }
    # A devfs entry replaces /dev: the sample keeps it where every server has it.
    assert sample["plugins"]["devfs"] == {"enabled": True, "path": "/dev"}
