"""Native plugins over HTTP: the hellofs-c conformance case of NATIVE_ABI.md §6, error paths of a
plugin that fails everything, run-time load / unload / reload."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re

import httpx
import pytest

from pfs.fs.errors import FSError
from pfs.testing.server import ServerProcess
from tests.helpers.external import HELLO_C, RFC3339_SECONDS, built_plugins, external_config


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)

HELLO_STAT = {
    "name": "hello",
    "size": 30,
    "mode": 420,
    "isDir": False,
    "meta": {"Name": "hellofs-c", "Type": "text", "Content": {"language": "c"}},
}


@pytest.fixture(scope="module")
def server(plugin_files):
    config = external_config(
        [plugin_files["hellofs-c"]],
        {"hellofs-c": {"enabled": True, "path": "/helloc"}},
    )
    with ServerProcess(config) as proc:
        yield proc


def load(api, path) -> httpx.Response:
    return api.post("/plugins/load", json={"library_path": str(path)})


def unload(api, path) -> httpx.Response:
    return api.post("/plugins/unload", json={"library_path": str(path)})


def without_time(info: dict) -> dict:
    assert re.match(RFC3339_SECONDS, info.pop("modTime")), info
    return info


def test_config_loaded_plugin_is_listed_and_mounted(api, plugin_files):
    assert api.get("/plugins").json() == {"loaded_plugins": [str(plugin_files["hellofs-c"])]}
    mounts = {m["path"]: m["pluginName"] for m in api.get("/mounts").json()["mounts"]}
    assert mounts["/helloc"] == "hellofs-c"


def test_hellofs_c_reads(api):
    r = api.get("/files", params={"path": "/helloc/hello"})
    assert (r.status_code, r.content) == (200, HELLO_C)
    r = api.get("/files", params={"path": "/helloc/hello", "offset": 6, "size": 5})
    assert (r.status_code, r.content) == (200, b"from ")
    r = api.get("/files", params={"path": "/helloc/hello", "offset": 100})
    assert (r.status_code, r.content) == (200, b"")


def test_hellofs_c_missing_file_is_an_error_not_a_crash(api):
    # The original server read the 32-bit -1 as 4294967295 and crashed copying 4 GiB.
    r = api.get("/files", params={"path": "/helloc/nope"})
    assert (r.status_code, r.json()) == (500, {"error": "/helloc/nope: file not found"})
    assert api.get("/health").status_code == 200


def test_hellofs_c_stat_and_list(api):
    r = api.get("/stat", params={"path": "/helloc/hello"})
    assert r.status_code == 200
    assert without_time(r.json()) == HELLO_STAT
    root = without_time(api.get("/stat", params={"path": "/helloc"}).json())
    assert (root["mode"], root["isDir"], root["size"]) == (493, True, 0)
    assert root["meta"] == {"Name": "hellofs-c", "Type": "directory", "Content": {}}
    listing = api.get("/directories", params={"path": "/helloc"}).json()["files"]
    assert [without_time(e) for e in listing] == [HELLO_STAT]
    # The plugin's error for a non-directory is swallowed into an empty listing (as the original).
    r = api.get("/directories", params={"path": "/helloc/x"})
    assert (r.status_code, r.json()) == (200, {"files": None})


def test_hellofs_c_mutations(api):
    # FSWrite returns a response, not an error: the original delivers it as a 200 message.
    r = api.put("/files", params={"path": "/helloc/hello"}, content=b"new")
    assert (r.status_code, r.json()) == (
        200, {"message": "operation not supported: read-only filesystem"})
    assert api.get("/files", params={"path": "/helloc/hello"}).content == HELLO_C
    for method, url, kwargs in [
        ("POST", "/files", {"params": {"path": "/helloc/new"}}),
        ("POST", "/directories", {"params": {"path": "/helloc/d"}}),
        ("DELETE", "/files", {"params": {"path": "/helloc/hello"}}),
        ("DELETE", "/files", {"params": {"path": "/helloc/hello", "recursive": "true"}}),
        ("POST", "/rename",
         {"params": {"path": "/helloc/hello"}, "json": {"newPath": "/helloc/x"}}),
        ("POST", "/chmod", {"params": {"path": "/helloc/hello"}, "json": {"mode": 0o600}}),
    ]:
        r = api.request(method, url, **kwargs)
        path = kwargs["params"]["path"]
        assert (r.status_code, r.json()) == (
            500, {"error": f"{path}: operation not supported: read-only filesystem"}), (method, url)


def test_hellofs_c_digest_and_stream(api):
    r = api.post("/digest", json={"algorithm": "md5", "path": "/helloc/hello"})
    assert r.json()["digest"] == hashlib.md5(HELLO_C).hexdigest()
    r = api.get("/files", params={"path": "/helloc/hello", "stream": "true"})
    assert (r.status_code, r.json()) == (
        404, {"error": "filesystem does not support streaming: /helloc/hello"})


def test_second_load_of_the_same_file_is_an_independent_copy(api, plugin_files):
    path = plugin_files["hellofs-c"]
    r = load(api, path)
    assert r.status_code == 200
    body = r.json()
    assert body == {"message": "plugin loaded successfully", "plugin_name": body["plugin_name"],
                    "original_name": "hellofs-c", "renamed": True}
    assert re.fullmatch(r"hellofs-c-\d+", body["plugin_name"])
    copies = [p for p in api.get("/plugins").json()["loaded_plugins"] if p != str(path)]
    assert len(copies) == 1 and re.search(r"/libhellofs-c\.\d+\.so$", copies[0])
    r = api.post("/mount", json={"fstype": body["plugin_name"], "path": "/copy"})
    assert r.status_code == 200
    assert api.get("/files", params={"path": "/copy/hello"}).content == HELLO_C
    assert api.post("/unmount", json={"path": "/copy"}).status_code == 200
    assert unload(api, copies[0]).json() == {"message": "plugin unloaded successfully"}
    assert api.get("/plugins").json()["loaded_plugins"] == [str(path)]
    assert not os.path.exists(copies[0])  # the temp copy goes with the unload


def test_unload_refused_while_mounted_then_unload_and_reload(api, plugin_files):
    path = plugin_files["errfs"]
    assert load(api, path).json()["plugin_name"] == "errfs"
    assert api.post("/mount", json={"fstype": "errfs", "path": "/err1"}).status_code == 200
    r = unload(api, path)
    assert r.status_code == 500
    assert r.json()["error"] == "plugin errfs is still mounted at /err1; unmount it first"
    assert api.get("/files", params={"path": "/err1/x"}).json() == {
        "error": "/err1/x: errfs read error"}
    assert api.post("/unmount", json={"path": "/err1"}).status_code == 200
    assert unload(api, path).status_code == 200
    assert str(path) not in api.get("/plugins").json()["loaded_plugins"]
    r = api.post("/mount", json={"fstype": "errfs", "path": "/err1"})
    assert (r.status_code, r.json()) == (400, {"error": "unknown filesystem type: errfs"})
    # Same path again: a fresh instance under the original name.
    assert load(api, path).json() == {
        "message": "plugin loaded successfully", "plugin_name": "errfs", "renamed": False}
    assert api.post("/mount", json={"fstype": "errfs", "path": "/err1"}).status_code == 200
    assert api.post("/unmount", json={"path": "/err1"}).status_code == 200
    assert unload(api, path).status_code == 200


@pytest.mark.parametrize(("fail", "status", "kind", "message"), [
    ("init-invalid", 400, "InvalidArgument", "errfs setting out of range"),
    ("init-denied", 403, "PermissionDenied", "errfs may not open its store"),
    ("init-missing", 404, "NotFound", "errfs store does not exist"),
    ("init-busy", 503, "Unavailable", "errfs store is busy"),
    # No errno: the message's words ("invalid", "is required") do not make it a 400.
    ("init-words", 500, "FSError", "invalid errfs setting is required"),
])
def test_initialize_failure_typed_by_the_plugins_errno(api, plugin_files, fail, status, kind,
                                                      message):
    """PluginInitialize's text says what failed; the errno it reports through PluginLastErrno
    (a PFS extension) says which kind of failure, and so the status."""
    before = set(api.get("/plugins").json()["loaded_plugins"])
    fstype = load(api, plugin_files["errfs"]).json()["plugin_name"]
    (key,) = set(api.get("/plugins").json()["loaded_plugins"]) - before  # errfs or a copy
    try:
        r = api.post("/mount", json={"fstype": fstype, "path": "/typed",
                                     "config": {"fail": fail}})
        assert (r.status_code, r.json()["error"], r.headers.get("X-PFS-Error-Kind")) == (
            status, f"failed to initialize plugin: {message}", kind)
        assert "/typed" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}
        # The instance stays usable: the next mount with a good config starts.
        assert api.post("/mount", json={"fstype": fstype, "path": "/typed"}).status_code == 200
        assert api.post("/unmount", json={"path": "/typed"}).status_code == 200
    finally:
        unload(api, key)


def test_failing_plugin_gives_clear_errors_everywhere(api, plugin_files):
    path = plugin_files["errfs"]
    assert load(api, path).status_code == 200
    try:
        r = api.post("/mount", json={"fstype": "errfs", "path": "/e",
                                     "config": {"fail": "validate"}})
        assert (r.status_code, r.json()) == (
            400, {"error": "failed to validate plugin: errfs refuses this config"})
        r = api.post("/mount", json={"fstype": "errfs", "path": "/e", "config": {"fail": "init"}})
        assert (r.status_code, r.json()) == (
            500, {"error": "failed to initialize plugin: errfs cannot start: backend unreachable"})
        assert "/e" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}

        assert api.post("/mount", json={"fstype": "errfs", "path": "/e"}).status_code == 200
        expected = [
            ("GET", "/files", {"path": "/e/f"}, None, 500, {"error": "/e/f: errfs read error"}),
            ("GET", "/files", {"path": "/e/silent"}, None, 500,
             {"error": "/e/silent: read failed"}),
            ("GET", "/stat", {"path": "/e/f"}, None, 500, {"error": "/e/f: stat failed"}),
            ("GET", "/directories", {"path": "/e"}, None, 200, {"files": None}),
            ("PUT", "/files", {"path": "/e/f"}, None, 200, {"message": "errfs write error"}),
            ("POST", "/files", {"path": "/e/f"}, None, 500,
             {"error": "/e/f: errfs create error"}),
            ("POST", "/directories", {"path": "/e/d"}, None, 500,
             {"error": "/e/d: errfs mkdir error"}),
            ("DELETE", "/files", {"path": "/e/f"}, None, 500,
             {"error": "/e/f: errfs remove error"}),
            ("DELETE", "/files", {"path": "/e/f", "recursive": "true"}, None, 500,
             {"error": "/e/f: errfs removeall error"}),
            ("POST", "/rename", {"path": "/e/f"}, {"newPath": "/e/g"}, 500,
             {"error": "/e/f: errfs rename error"}),
            ("POST", "/chmod", {"path": "/e/f"}, {"mode": 420}, 500,
             {"error": "/e/f: errfs chmod error"}),
        ]
        for method, url, params, body, status, answer in expected:
            r = api.request(method, url, params=params, json=body)
            assert (r.status_code, r.json()) == (status, answer), (method, url, params)
        # Offsets and appends cannot be expressed in the C ABI: refused, not silently replaced.
        r = api.put("/files", params={"path": "/e/f", "offset": 3}, content=b"x")
        assert r.status_code == 501
        # The server and the other mounts are fine.
        assert api.get("/files", params={"path": "/helloc/hello"}).content == HELLO_C
    finally:
        api.post("/unmount", json={"path": "/e"})
        unload(api, path)


def test_plugin_with_only_plugin_new(api, plugin_files):
    path = plugin_files["minimal"]
    r = load(api, path)
    # No PluginName: named after the file (the original registered the fstype "").
    assert r.json()["plugin_name"] == "minimal"
    assert api.post("/mount", json={"fstype": "minimal", "path": "/min"}).status_code == 200
    for method, url, params in [("GET", "/files", {"path": "/min/a"}),
                                ("GET", "/stat", {"path": "/min/a"}),
                                ("POST", "/files", {"path": "/min/a"})]:
        r = api.request(method, url, params=params)
        assert (r.status_code, r.json()) == (500, {"error": "/min/a: not implemented"})
    assert api.post("/unmount", json={"path": "/min"}).status_code == 200
    assert unload(api, path).status_code == 200


def test_library_without_plugin_new(api, plugin_files):
    r = load(api, plugin_files["nonew"])
    assert (r.status_code, r.json()) == (400, {
        "error": "failed to create plugin wrapper: plugin missing required PluginNew function"})
    assert str(plugin_files["nonew"]) not in api.get("/plugins").json()["loaded_plugins"]


def test_unload_errors(api, plugin_files, tmp_path):
    r = unload(api, plugin_files["errfs"])
    assert (r.status_code, r.json()) == (
        500, {"error": f"plugin not loaded: {plugin_files['errfs']}"})
    missing = tmp_path / "gone.so"
    r = unload(api, missing)
    assert (r.status_code, r.json()) == (
        404, {"error": f"failed to detect plugin type: plugin file not found: {missing}"})
    r = api.post("/plugins/unload", json={"library_path": ""})
    assert (r.status_code, r.json()) == (400, {"error": "library_path is required"})
    r = api.post("/plugins/load", json={})
    assert (r.status_code, r.json()) == (400, {"error": "library_path is required"})


def test_native_name_collision_with_a_builtin(api, plugin_files):
    """A native plugin named like a built-in is renamed; the built-in keeps its name."""
    path = plugin_files["clash"]
    assert load(api, path).json() == {"message": "plugin loaded successfully",
                                      "plugin_name": "memfs-1", "original_name": "memfs",
                                      "renamed": True}
    assert api.post("/mount", json={"fstype": "memfs-1", "path": "/clash"}).status_code == 200
    assert api.get("/files", params={"path": "/clash/a"}).json() == {
        "error": "/clash/a: errfs read error"}
    assert api.put("/files", params={"path": "/memfs/a"}, content=b"builtin").status_code == 200
    assert api.get("/files", params={"path": "/memfs/a"}).content == b"builtin"
    mounts = {m["path"]: m["pluginName"] for m in api.get("/mounts").json()["mounts"]}
    assert (mounts["/clash"], mounts["/memfs"]) == ("memfs-1", "memfs")
    assert api.post("/unmount", json={"path": "/clash"}).status_code == 200
    assert unload(api, path).status_code == 200


def test_write_errors_through_the_fswriteex_extension(api, plugin_files):
    path = plugin_files["errfs-ex"]
    assert load(api, path).json()["plugin_name"] == "errfs-ex"
    assert api.post("/mount", json={"fstype": "errfs-ex", "path": "/ex"}).status_code == 200
    try:
        r = api.put("/files", params={"path": "/ex/f"}, content=b"data")
        assert (r.status_code, r.json()) == (500, {"error": "/ex/f: errfs write error"})
        r = api.put("/files", params={"path": "/ex/ok"}, content=b"data")
        assert (r.status_code, r.json()) == (200, {"message": "written"})
    finally:
        api.post("/unmount", json={"path": "/ex"})
        unload(api, path)


def test_struct_layout_matches_the_original_abi():
    from pfs.external.native import _RECORD, FileInfoArray, FileInfoC

    assert ctypes.sizeof(FileInfoC) == 64 and ctypes.sizeof(FileInfoArray) == 16
    offsets = {name: getattr(FileInfoC, name).offset for name, _ in FileInfoC._fields_}
    assert offsets == {"Name": 0, "Size": 8, "Mode": 16, "ModTime": 24, "IsDir": 32,
                       "MetaName": 40, "MetaType": 48, "MetaContent": 56}
    assert (FileInfoArray.Items.offset, FileInfoArray.Count.offset) == (0, 8)
    # What records are read with: the same fields at the same places.
    fields = (0x1000, -2, 0o644, 1 << 40, 1, 0x2000, 0x3000, 0x4000)
    assert _RECORD.unpack(bytes(FileInfoC(*fields))) == fields


def test_hellofs_c_direct_abi_results(plugin_files):
    """NATIVE_ABI.md §6 "Direct ABI results", called through the host's bindings."""
    from pfs.external.native import NativePlugin

    plugin = NativePlugin.open(str(plugin_files["hellofs-c"]))
    assert plugin.original_name == "hellofs-c"
    assert plugin.readme().startswith("# HelloFS C Plugin")
    assert plugin.read("/hello", 0, -1) == HELLO_C
    assert plugin.read("/hello", 6, 5) == b"from "
    assert plugin.read("/hello", 0, 0) == HELLO_C
    assert plugin.read("/hello", 100, -1) == b""
    with pytest.raises(FSError, match="^file not found$"):
        plugin.read("/nope", 0, -1)
    root = plugin.stat("/")
    assert (root.name, root.size, root.mode, root.is_dir) == ("", 0, 0o755, True)
    assert (root.meta.name, root.meta.type, root.meta.content) == ("hellofs-c", "directory", {})
    hello = plugin.stat("/hello")
    assert (hello.name, hello.size, hello.mode, hello.is_dir) == ("hello", 30, 0o644, False)
    assert hello.meta.content == {"language": "c"}
    with pytest.raises(FSError, match="^stat failed$"):
        plugin.stat("/other")
    assert [e.name for e in plugin.readdir("/")] == ["hello"]
    assert plugin.readdir("/other") == []
    assert plugin.write("/hello", b"x") == "operation not supported: read-only filesystem"
    init = plugin.fn["PluginInitialize"]
    assert ctypes.string_at(init(None, b"{}")) == b"plugin is null"
    plugin.release()
