"""AGFS's /plugins shape lists loaded native and WASM plugins with their library, beside the
built-ins; the original's shape still lists only the libraries."""

from __future__ import annotations

import pytest

from tests.helpers.external import built_plugins, external_config


@pytest.fixture(scope="module")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)


def test_loaded_plugins_in_agfs_shape(plugin_files, start_server):
    native, wasm = plugin_files["hellofs-c"], plugin_files["hellofs-wasm"]
    srv = start_server(external_config([native, wasm]))
    api = srv.client(timeout=30)
    original = api.get("/plugins").json()["loaded_plugins"]
    assert sorted(original) == sorted([str(native), str(wasm)])
    plugins = api.get("/plugins", params={"format": "agfs"}).json()["plugins"]
    external = {p["library_path"]: p for p in plugins if p["is_external"]}
    assert set(external) == {str(native), str(wasm)}
    assert all("library_path" not in p for p in plugins if not p["is_external"])
    name = external[str(native)]["name"]
    assert external[str(native)]["mounted_paths"] is None
    assert api.post("/mount", json={"fstype": name, "path": "/c"}).status_code == 200
    plugins = api.get("/plugins", params={"format": "agfs"}).json()["plugins"]
    mounted = {p["name"]: p["mounted_paths"] for p in plugins}
    assert mounted[name] == [{"path": "/c"}]
    assert mounted["memfs"] == [{"path": "/memfs"}]
