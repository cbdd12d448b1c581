"""Loading external plugins: type detection by magic number, plugin_dir auto-load, config checks,
and the security switches (run-time loading off by default, admin role, URL loading)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import wasmtime

from pfs.testing.server import ServerProcess
from tests.helpers.external import HELLO_C, built_plugins, external_config


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)

ADMIN, READER = "admin-token-x", "read-token-y"


@pytest.fixture(scope="module")
def server(plugin_files):
    with ServerProcess(external_config(allow_url_load=False)) as proc:
        yield proc


def load(api, path, **kwargs):
    return api.post("/plugins/load", json={"library_path": str(path)}, **kwargs)


def unload(api, path, **kwargs):
    return api.post("/plugins/unload", json={"library_path": str(path)}, **kwargs)


def test_native_library_named_wasm_loads_by_magic(api, plugin_files, tmp_path):
    disguised = tmp_path / "really-native.wasm"
    shutil.copy(plugin_files["hellofs-c"], disguised)
    r = load(api, disguised)
    assert r.status_code == 200, r.text
    name = r.json()["plugin_name"]
    assert name == "hellofs-c"
    assert api.post("/mount", json={"fstype": name, "path": "/n"}).status_code == 200
    assert api.get("/files", params={"path": "/n/hello"}).content == HELLO_C
    assert api.post("/unmount", json={"path": "/n"}).status_code == 200
    assert unload(api, disguised).status_code == 200


def test_wasm_module_named_so_loads_by_magic(api, plugin_files, tmp_path):
    disguised = tmp_path / "libreally-wasm.so"
    shutil.copy(plugin_files["hellofs-wasm"], disguised)
    r = load(api, disguised)
    assert r.json()["plugin_name"] == "hellofs-wasm"
    assert api.get("/plugins").json()["loaded_plugins"] == [str(disguised)]
    assert api.post("/mount", json={"fstype": "hellofs-wasm", "path": "/w"}).status_code == 200
    assert api.get("/files", params={"path": "/w/hello.txt"}).content == b"Hello World\n"
    assert api.post("/unmount", json={"path": "/w"}).status_code == 200
    r = unload(api, disguised)
    assert r.json() == {"message": "plugin unloaded successfully"}
    # Loaded again from the same path: a fresh instance under the plain key and name.
    assert load(api, disguised).json()["plugin_name"] == "hellofs-wasm"
    assert api.get("/plugins").json()["loaded_plugins"] == [str(disguised)]
    assert unload(api, disguised).status_code == 200


def test_files_that_are_not_plugins(api, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some text\n")
    r = load(api, text)
    assert (r.status_code, r.json()) == (400, {"error": "unsupported plugin type: unknown"})
    fake_so = tmp_path / "libfake.so"
    fake_so.write_text("not an ELF file\n")
    r = load(api, fake_so)
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"failed to open library {fake_so}: ")
    bad_wasm = tmp_path / "broken.wasm"
    bad_wasm.write_bytes(b"\x00asm\x01\x00\x00\x00garbage")
    r = load(api, bad_wasm)
    assert r.status_code == 400
    assert r.json()["error"].startswith("failed to compile WASM module: ")
    missing = tmp_path / "missing.so"
    r = load(api, missing)
    assert (r.status_code, r.json()) == (
        404, {"error": f"failed to detect plugin type: plugin file not found: {missing}"})
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(b"\x7f")
    assert load(api, tiny).json() == {"error": "unsupported plugin type: unknown"}
    assert api.get("/plugins").json() == {"loaded_plugins": []}


def test_wasm_module_without_plugin_new(api, tmp_path):
    module = tmp_path / "empty.wasm"
    module.write_bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))'))
    r = load(api, module)
    assert (r.status_code, r.json()) == (400, {"error": "failed to create WASM plugin wrapper: "
                                              "WASM module missing required function: plugin_new"})
    no_result = tmp_path / "noresult.wasm"
    no_result.write_bytes(wasmtime.wat2wasm(
        '(module (memory (export "memory") 1) (func (export "plugin_new")))'))
    assert load(api, no_result).json() == {
        "error": "failed to create WASM plugin wrapper: plugin_new returned no results"}
    unknown_import = tmp_path / "imports.wasm"
    unknown_import.write_bytes(wasmtime.wat2wasm(
        '(module (import "evil" "syscall" (func)) (memory (export "memory") 1))'))
    r = load(api, unknown_import)
    assert r.status_code == 400
    assert r.json()["error"].startswith("failed to instantiate WASM module: ")


def test_wasm_unnamed_module_gets_default_name(api, tmp_path):
    module = tmp_path / "anon.wasm"
    module.write_bytes(wasmtime.wat2wasm(
        '(module (memory (export "memory") 1)'
        ' (func (export "plugin_new") (result i32) i32.const 1))'))
    assert load(api, module).json()["plugin_name"] == "wasm-plugin"
    assert api.post("/mount", json={"fstype": "wasm-plugin", "path": "/anon"}).status_code == 200
    r = api.get("/files", params={"path": "/anon/x"})
    assert (r.status_code, r.json()) == (500, {"error": "/anon/x: fs_read not implemented"})
    api.post("/unmount", json={"path": "/anon"})
    assert unload(api, module).status_code == 200


def test_url_loading_is_off_unless_enabled(api):
    for url in ("http://127.0.0.1:1/plugin.so", "pfs://memfs/plugin.so"):
        r = load(api, url)
        assert (r.status_code, r.json()) == (403, {
            "error": "loading plugins from URLs is not enabled "
                     "(set external_plugins.allow_url_load: true)"})


def test_pfs_url_loading_when_enabled(start_server, plugin_files):
    server = start_server(external_config(allow_url_load=True))
    api = server.client(timeout=30)
    api.put("/files", params={"path": "/memfs/libhello.so"},
            content=plugin_files["hellofs-c"].read_bytes())
    r = load(api, "pfs://memfs/libhello.so")
    assert r.json()["plugin_name"] == "hellofs-c"
    assert api.post("/mount", json={"fstype": "hellofs-c", "path": "/h"}).status_code == 200
    assert api.get("/files", params={"path": "/h/hello"}).content == HELLO_C
    (temp,) = api.get("/plugins").json()["loaded_plugins"]
    assert re.search(r"/pfs-plugin-[0-9a-f]{16}\.so$", temp)
    # Loading the same source again while the first is mapped: a fresh copy, nothing overwritten.
    assert load(api, "pfs://memfs/libhello.so").json()["plugin_name"] == "hellofs-c-1"
    assert api.get("/files", params={"path": "/h/hello"}).content == HELLO_C
    copy = [p for p in api.get("/plugins").json()["loaded_plugins"] if p != temp][0]
    assert api.post("/unmount", json={"path": "/h"}).status_code == 200
    for key in (temp, copy):
        assert unload(api, key).status_code == 200
        assert not os.path.exists(key)
    r = load(api, "pfs:///")
    assert r.json() == {"error": "failed to read plugin from PFS: invalid pfs path: pfs:///"}
    r = load(api, "http://127.0.0.1:1/plugin.so")
    assert r.status_code == 500 and r.json()["error"].startswith("failed to download plugin: ")


def test_runtime_loading_off_by_default(start_server, plugin_files):
    server = start_server({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    api = server.client(timeout=30)
    assert api.get("/plugins").json() == {"loaded_plugins": []}
    for call in (load, unload):
        r = call(api, plugin_files["hellofs-c"])
        assert r.status_code == 403
        assert "run-time plugin loading is not enabled" in r.json()["error"]
    # Enabled section, but run-time loading not allowed: config-listed plugins still load.
    server = start_server({"external_plugins": {"enabled": True,
                                             "plugin_paths": [str(plugin_files["hellofs-c"])]}})
    api = server.client(timeout=30)
    assert api.get("/plugins").json() == {"loaded_plugins": [str(plugin_files["hellofs-c"])]}
    assert load(api, plugin_files["errfs"]).status_code == 403


def test_loading_needs_the_admin_token(start_server, plugin_files):
    config = external_config()
    config["server"] = {"auth": {"tokens": [{"token": ADMIN, "role": "admin"},
                                            {"token": READER, "role": "read"}]}}
    server = start_server(config)
    api = server.client(timeout=30)
    assert load(api, plugin_files["hellofs-c"]).status_code == 401
    reader = {"Authorization": f"Bearer {READER}"}
    assert load(api, plugin_files["hellofs-c"], headers=reader).status_code == 403
    assert unload(api, plugin_files["hellofs-c"], headers=reader).status_code == 403
    assert api.get("/plugins", headers=reader).json() == {"loaded_plugins": []}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    r = load(api, plugin_files["hellofs-c"], headers=admin)
    assert (r.status_code, r.json()["plugin_name"]) == (200, "hellofs-c")
    assert unload(api, plugin_files["hellofs-c"], headers=admin).status_code == 200


def test_plugin_dir_auto_load(start_server, plugin_files, tmp_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(plugin_files["hellofs-c"], tmp_path / "libhellofs-c.so")
    shutil.copy(plugin_files["hellofs-wasm"], tmp_path / "sub" / "hellofs.wasm")
    (tmp_path / "README.txt").write_text("ignored: not a plugin extension\n")
    (tmp_path / "broken.so").write_text("junk is logged and skipped\n")
    config = {
        "external_plugins": {"enabled": True, "plugin_dir": str(tmp_path), "auto_load": True},
        "plugins": {"hellofs-c": {"enabled": True, "path": "/c"},
                    "hellofs-wasm": {"enabled": True, "path": "/w"}},
    }
    server = start_server(config)
    api = server.client(timeout=30)
    assert api.get("/plugins").json() == {"loaded_plugins": [
        str(tmp_path / "libhellofs-c.so"), str(tmp_path / "sub" / "hellofs.wasm")]}
    assert api.get("/files", params={"path": "/c/hello"}).content == HELLO_C
    assert api.get("/files", params={"path": "/w/hello.txt"}).content == b"Hello World\n"
    assert "broken.so" in server.log()


def _run_server(config_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pfs.server.cli", "-addr", "127.0.0.1:1",
                           "-c", str(config_path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("section, message", [
    ({"enabled": True, "wasm": {"call_timeout": "soon"}},
     "external_plugins.wasm.call_timeout: must be a duration such as 5, 2.5s or 500ms"),
    ({"enabled": True, "wasm": {"memory_limit": "1KB"}},
     "external_plugins.wasm.memory_limit: must be at least 64KB (one WASM page)"),
    ({"enabled": True, "wasm": {"fuel": 1}}, "external_plugins.wasm: unknown key(s) fuel"),
    ({"enabled": True, "allow_runtime_load": "yes"},
     "external_plugins.allow_runtime_load: must be true or false"),
    ({"enabled": True, "plugin_paths": "/a.so"},
     "external_plugins.plugin_paths: must be a list of file paths"),
])
def test_bad_external_config_stops_the_cli(tmp_path, section, message):
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"external_plugins": section}))
    done = _run_server(config)
    assert done.returncode == 2
    assert message in done.stderr


def test_missing_plugin_path_stops_start_up(tmp_path):
    proc = ServerProcess(external_config([tmp_path / "nope.so"]), wait=False)
    try:
        assert proc.proc.wait(60) != 0
        assert f"plugin file not found: {tmp_path / 'nope.so'}" in proc.log()
    finally:
        proc.close()


def test_unknown_fstype_in_mounts_still_stops_start_up(tmp_path):
    config = external_config(mounts={"nosuchplugin": {"enabled": True, "path": "/x"}})
    proc = ServerProcess(config, wait=False)
    try:
        assert proc.proc.wait(60) != 0
        assert "unknown filesystem type: nosuchplugin" in proc.log()
    finally:
        proc.close()
