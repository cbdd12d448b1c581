"""WASM plugins over HTTP: hellofs-wasm (WASM_ABI.md §5.2 behaviour), its host functions limited
to the mount's host_paths, and the sandbox: loops, traps and runaway allocation."""

from __future__ import annotations

import threading

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.external import built_plugins, external_config


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)

ZERO_TIME = "0001-01-01T00:00:00Z"
NO_META = {"Name": "", "Type": "", "Content": None}


@pytest.fixture(scope="module")
def server(plugin_files):
    config = external_config(
        [plugin_files["hellofs-wasm"], plugin_files["badwasm"]],
        {
            "hellofs-wasm": {"enabled": True, "path": "/hw", "config": {
                "host_prefix": "/memfs/shared", "host_paths": ["/memfs/shared"]}},
            "badwasm": {"enabled": True, "path": "/bad"},
        },
        wasm={"call_timeout": "1s", "memory_limit": "8MB"},
    )
    with ServerProcess(config) as proc:
        yield proc


def test_listed_in_plugins(api, plugin_files):
    assert api.get("/plugins").json() == {"loaded_plugins": [
        str(plugin_files["hellofs-wasm"]), str(plugin_files["badwasm"])]}


def test_hellofs_wasm_read_stat_list(api):
    r = api.get("/files", params={"path": "/hw/hello.txt"})
    assert (r.status_code, r.content) == (200, b"Hello World\n")
    assert api.get("/stat", params={"path": "/hw/hello.txt"}).json() == {
        "name": "hello.txt", "size": 12, "mode": 420, "modTime": ZERO_TIME, "isDir": False,
        "meta": NO_META}
    root = api.get("/stat", params={"path": "/hw"}).json()
    assert (root["mode"], root["isDir"], root["modTime"], root["meta"]) == (
        493, True, ZERO_TIME, NO_META)
    listing = api.get("/directories", params={"path": "/hw"}).json()["files"]
    assert [(e["name"], e["size"], e["mode"], e["isDir"]) for e in listing] == [
        ("hello.txt", 12, 420, False), ("host", 0, 493, True)]


def test_hellofs_wasm_errors(api):
    for method, url, params, body, status, answer in [
        ("GET", "/files", {"path": "/hw/nope"}, None, 500, {"error": "/hw/nope: read failed"}),
        ("GET", "/stat", {"path": "/hw/nope"}, None, 500, {"error": "/hw/nope: file not found"}),
        ("GET", "/directories", {"path": "/hw/nope"}, None, 500,
         {"error": "/hw/nope: file not found"}),
        ("PUT", "/files", {"path": "/hw/hello.txt"}, None, 500,
         {"error": "/hw/hello.txt: write failed"}),
        ("POST", "/files", {"path": "/hw/new"}, None, 500,
         {"error": "/hw/new: permission denied"}),
        ("POST", "/directories", {"path": "/hw/d"}, None, 500,
         {"error": "/hw/d: permission denied"}),
        ("DELETE", "/files", {"path": "/hw/hello.txt"}, None, 500,
         {"error": "/hw/hello.txt: permission denied"}),
        ("POST", "/rename", {"path": "/hw/hello.txt"}, {"newPath": "/hw/x"}, 500,
         {"error": "/hw/hello.txt: permission denied"}),
        ("POST", "/chmod", {"path": "/hw/hello.txt"}, {"mode": 384}, 200,
         {"message": "permissions changed"}),
    ]:
        r = api.request(method, url, params=params, json=body)
        assert (r.status_code, r.json()) == (status, answer), (method, url)
    r = api.get("/files", params={"path": "/hw/hello.txt", "stream": "true"})
    assert (r.status_code, r.json()) == (
        404, {"error": "filesystem does not support streaming: /hw/hello.txt"})


def test_host_functions_reach_the_allowed_prefix(api):
    assert api.post("/directories", params={"path": "/memfs/shared"}).status_code in (201, 500)
    api.put("/files", params={"path": "/memfs/shared/a.txt"}, content=b"from memfs")
    r = api.get("/files", params={"path": "/hw/host/a.txt"})
    assert (r.status_code, r.content) == (200, b"from memfs")
    info = api.get("/stat", params={"path": "/hw/host/a.txt"}).json()
    assert (info["name"], info["size"], info["meta"]["Name"]) == ("a.txt", 10, "memfs")
    r = api.put("/files", params={"path": "/hw/host/b.txt"}, content=b"via wasm")
    assert r.status_code == 200
    assert api.get("/files", params={"path": "/memfs/shared/b.txt"}).content == b"via wasm"
    listing = api.get("/directories", params={"path": "/hw/host"}).json()["files"]
    names = {e["name"] for e in listing}
    assert {"a.txt", "b.txt"} <= names
    assert api.post("/directories", params={"path": "/hw/host/sub"}).status_code == 201
    assert api.get("/stat", params={"path": "/memfs/shared/sub"}).json()["isDir"] is True
    assert api.delete("/files", params={"path": "/hw/host/b.txt"}).status_code == 200
    r = api.get("/stat", params={"path": "/hw/host/b.txt"})
    assert r.status_code == 500 and r.json()["error"].startswith("/hw/host/b.txt: host fs: ")


def test_host_functions_cannot_leave_host_paths(api, plugin_files):
    """A second instance whose host_prefix is wider than its host_paths."""
    api.put("/files", params={"path": "/memfs/secret.txt"}, content=b"secret")
    r = api.post("/plugins/load", json={"library_path": str(plugin_files["hellofs-wasm"])})
    name = r.json()["plugin_name"]
    assert name == "hellofs-wasm-1"
    key = f"{plugin_files['hellofs-wasm']}#1"
    assert key in api.get("/plugins").json()["loaded_plugins"]
    r = api.post("/mount", json={"fstype": name, "path": "/hw2", "config": {
        "host_prefix": "/memfs", "host_paths": ["/memfs/shared"]}})
    assert r.status_code == 200, r.text
    try:
        api.put("/files", params={"path": "/memfs/shared/ok.txt"}, content=b"ok")
        assert api.get("/files", params={"path": "/hw2/host/shared/ok.txt"}).content == b"ok"
        r = api.get("/files", params={"path": "/hw2/host/secret.txt"})
        assert (r.status_code, r.json()) == (500, {"error": "/hw2/host/secret.txt: read failed"})
        r = api.get("/stat", params={"path": "/hw2/host/secret.txt"})
        assert r.status_code == 500
        assert r.json()["error"] == (
            "/hw2/host/secret.txt: host fs: permission denied: /memfs/secret.txt is outside "
            "this mount's host_paths "
            "(/memfs/shared)")
        r = api.put("/files", params={"path": "/hw2/host/secret.txt"}, content=b"overwritten")
        assert (r.status_code, r.json()) == (500, {"error": "/hw2/host/secret.txt: write failed"})
        r = api.delete("/files", params={"path": "/hw2/host/secret.txt"})
        assert r.status_code == 500
        # Climbing out with .. is normalised before the check.
        r = api.get("/stat", params={"path": "/hw2/host/shared/../secret.txt"})
        assert r.status_code == 500
        assert api.get("/files", params={"path": "/memfs/secret.txt"}).content == b"secret"
    finally:
        api.post("/unmount", json={"path": "/hw2"})
    assert api.post("/plugins/unload", json={"library_path": key}).status_code == 200
    assert key not in api.get("/plugins").json()["loaded_plugins"]


def test_mount_without_host_paths_has_no_host_access(api, plugin_files):
    r = api.post("/plugins/load", json={"library_path": str(plugin_files["hellofs-wasm"])})
    name = r.json()["plugin_name"]
    key = [k for k in api.get("/plugins").json()["loaded_plugins"] if k.endswith("#1")][0]
    api.post("/mount", json={"fstype": name, "path": "/hw3", "config": {"host_prefix": "/memfs"}})
    try:
        r = api.get("/stat", params={"path": "/hw3/host/secret.txt"})
        assert r.json()["error"].endswith("is outside this mount's host_paths (none)")
    finally:
        api.post("/unmount", json={"path": "/hw3"})
        api.post("/plugins/unload", json={"library_path": key})


def test_bad_host_paths_config(api):
    r = api.post("/mount", json={"fstype": "hellofs-wasm", "path": "/hwx",
                                 "config": {"host_paths": "/memfs"}})
    assert r.status_code == 400
    assert "host_paths' must be a list of absolute PFS paths" in r.json()["error"]


def test_infinite_loop_ends_with_an_error_and_others_keep_working(api, server):
    results = {}

    def run_loop():
        with httpx.Client(base_url=server.api, timeout=60) as client:
            results["loop"] = client.get("/files", params={"path": "/bad/loop"})

    looping = threading.Thread(target=run_loop)
    looping.start()
    # Other mounts (and another WASM module) answer while the loop runs.
    assert api.get("/files", params={"path": "/hw/hello.txt"}).content == b"Hello World\n"
    api.put("/files", params={"path": "/memfs/during"}, content=b"x")
    assert api.get("/files", params={"path": "/memfs/during"}).content == b"x"
    looping.join()
    r = results["loop"]
    assert r.status_code == 504
    assert r.json() == {"error": "/bad/loop: wasm plugin badwasm: call exceeded its deadline of 1s "
                                 "and was stopped"}
    # The module itself is still usable.
    assert api.get("/files", params={"path": "/bad/ok"}).content == b"ok\n"


def test_trap_is_a_500_and_the_module_lives_on(api):
    r = api.get("/files", params={"path": "/bad/trap"})
    assert r.status_code == 500
    assert r.json()["error"].startswith("/bad/trap: wasm plugin badwasm trapped: ")
    assert "unreachable" in r.json()["error"]
    assert api.get("/files", params={"path": "/bad/ok"}).content == b"ok\n"
    assert api.get("/health").status_code == 200


def test_runaway_allocation_hits_the_memory_cap(api):
    r = api.get("/files", params={"path": "/bad/grow"})
    assert r.status_code == 500
    assert r.json()["error"].startswith("/bad/grow: wasm plugin badwasm trapped: ")
    # The host's own allocation in the module now fails cleanly too, or still works if the
    # module had room left; either way the answer is a clean HTTP response.
    r = api.get("/files", params={"path": "/bad/ok"})
    assert r.status_code in (200, 500)
    if r.status_code == 500:
        assert r.json() == {"error": "/bad/ok: malloc returned null pointer"}
    assert api.get("/files", params={"path": "/hw/hello.txt"}).content == b"Hello World\n"


def test_plugin_last_error_explains_a_failed_read(api):
    r = api.get("/files", params={"path": "/bad/unknown"})
    assert (r.status_code, r.json()) == (500, {"error": "/bad/unknown: badwasm: no such file"})


@pytest.mark.parametrize(("fail", "status", "kind", "message"), [
    ("init", 400, "InvalidArgument", "badwasm: setting out of range"),
    ("init-plain", 500, "FSError", "badwasm: invalid store"),  # no errno: words do not type it
])
def test_initialize_failure_typed_by_plugin_last_errno(api, plugin_files, fail, status, kind,
                                                       message):
    before = set(api.get("/plugins").json()["loaded_plugins"])
    fstype = api.post("/plugins/load", json={"library_path": str(plugin_files["badwasm"])}
                      ).json()["plugin_name"]
    (key,) = set(api.get("/plugins").json()["loaded_plugins"]) - before
    try:
        r = api.post("/mount", json={"fstype": fstype, "path": "/badinit",
                                     "config": {"fail": fail}})
        assert (r.status_code, r.json(), r.headers.get("X-PFS-Error-Kind")) == (
            status, {"error": f"failed to initialize plugin: initialization failed: {message}"},
            kind)
        assert "/badinit" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}
    finally:
        api.post("/plugins/unload", json={"library_path": key})


def test_unload_wasm_refused_while_mounted(api, plugin_files):
    r = api.post("/plugins/unload", json={"library_path": str(plugin_files["badwasm"])})
    assert (r.status_code, r.json()) == (
        500, {"error": "plugin badwasm is still mounted at /bad; unmount it first"})


def _load_copy(api, plugin_files) -> tuple[str, str]:
    """A fresh instance of hellofs-wasm: (fstype, key for unload)."""
    before = set(api.get("/plugins").json()["loaded_plugins"])
    r = api.post("/plugins/load", json={"library_path": str(plugin_files["hellofs-wasm"])})
    (key,) = set(api.get("/plugins").json()["loaded_plugins"]) - before
    return r.json()["plugin_name"], key


def test_host_call_back_into_the_same_module_and_a_cycle(api, plugin_files):
    """Host functions may reach the plugin's own mount, and two modules may call each other:
    the nested calls run on the thread already inside the module instead of deadlocking."""
    self_type, self_key = _load_copy(api, plugin_files)
    a_type, a_key = _load_copy(api, plugin_files)
    b_type, b_key = _load_copy(api, plugin_files)
    mounts = [
        (self_type, "/self", {"host_prefix": "/self", "host_paths": ["/self"]}),
        (a_type, "/ca", {"host_prefix": "/cb", "host_paths": ["/cb"]}),
        (b_type, "/cb", {"host_prefix": "/ca", "host_paths": ["/ca"]}),
    ]
    for fstype, path, config in mounts:
        r = api.post("/mount", json={"fstype": fstype, "path": path, "config": config})
        assert r.status_code == 200, r.text
    try:
        assert api.get("/files", params={"path": "/self/host/hello.txt"}).content == \
            b"Hello World\n"
        assert api.get("/files", params={"path": "/self/host/host/host/hello.txt"}).content == \
            b"Hello World\n"
        assert api.get("/stat", params={"path": "/self/host/hello.txt"}).json()["size"] == 12
        # /ca/host/host/hello.txt → B's /host/hello.txt → A's /hello.txt
        assert api.get("/files", params={"path": "/ca/host/host/hello.txt"}).content == \
            b"Hello World\n"
        listing = api.get("/directories", params={"path": "/cb/host/host"}).json()["files"]
        assert [e["name"] for e in listing] == ["hello.txt", "host"]
    finally:
        for _, path, _ in mounts:
            api.post("/unmount", json={"path": path})
        for key in (self_key, a_key, b_key):
            assert api.post("/plugins/unload", json={"library_path": key}).status_code == 200


def test_inline_calls_mode(start_server, plugin_files):
    config = external_config(
        [plugin_files["hellofs-wasm"], plugin_files["badwasm"]],
        {"hellofs-wasm": {"enabled": True, "path": "/hw"},
         "badwasm": {"enabled": True, "path": "/bad"}},
        wasm={"call_timeout": "300ms", "inline_calls": True},
    )
    server = start_server(config)
    api = server.client(timeout=30)
    assert api.get("/files", params={"path": "/hw/hello.txt"}).content == b"Hello World\n"
    r = api.get("/files", params={"path": "/bad/loop"})
    assert (r.status_code, r.json()) == (504, {
        "error": "/bad/loop: wasm plugin badwasm: call exceeded its deadline of 0.3s and was "
        "stopped"})
    assert api.get("/files", params={"path": "/bad/ok"}).content == b"ok\n"
    # A mount with host_paths still runs on the module's thread (host calls need the loop).
    api.put("/files", params={"path": "/memfs/x"}, content=b"via host")
    r = api.post("/mount", json={"fstype": "hellofs-wasm", "path": "/hw2",
                                 "config": {"host_prefix": "/memfs", "host_paths": ["/memfs"]}})
    assert r.status_code == 200
    assert api.get("/files", params={"path": "/hw2/host/x"}).content == b"via host"


def test_guest_file_info_json_decoding():
    """WASM_ABI.md §3: Go-style names matched case-insensitively; numeric ModTime and
    non-string Content values are accepted (the original failed the whole call)."""
    from pfs.external.wasm.abi import info_from_json
    from pfs.fs.errors import FSError

    info = info_from_json({"name": "a", "SIZE": 3, "mode": 420, "modtime": 1700000000,
                            "isdir": False, "meta": {"NAME": "m", "type": "t",
                                                     "content": {"n": 1, "s": "x"}}})
    assert (info.name, info.size, info.mode, info.is_dir) == ("a", 3, 420, False)
    assert info.mtime_ns == 1700000000 * 10**9
    assert (info.meta.name, info.meta.type, info.meta.content) == ("m", "t", {"n": "1", "s": "x"})
    empty = info_from_json({"Name": "d", "IsDir": True, "ModTime": "0001-01-01T00:00:00Z"})
    assert empty.to_json()["modTime"] == ZERO_TIME
    assert empty.to_json()["meta"] == NO_META
    # snake_case keys are not Go field names: ignored, as in the original.
    assert info_from_json({"is_dir": True}).is_dir is False
    with pytest.raises(FSError, match="failed to unmarshal file info"):
        info_from_json(["not", "an", "object"])
    with pytest.raises(FSError, match="failed to unmarshal file info"):
        info_from_json({"Size": "big"})


def test_guest_calls_take_the_ctypes_fast_path(plugin_files, monkeypatch):
    """pfs.external.wasm.fastcall reaches into wasmtime-py internals (pinned major version in
    pyproject.toml). If an upgrade moved them, calls would silently fall back to the public API
    (~90 µs a call instead of a few): here the public call and memory access are tripwires, so
    a mount's calls must all go through the C API directly."""
    import asyncio

    import wasmtime

    from pfs.external.wasm import WasmLimits, WasmPlugin, WasmRuntime, fastcall
    from pfs.fs import validate_config
    from pfs.plugins.memfs import MemFS

    assert fastcall.FAST, "wasmtime's C functions were not found: the fast path is off"

    def slow_path(*args, **kwargs):
        raise AssertionError("a guest call took wasmtime-py's public (slow) path")

    for cls, name in [(wasmtime.Func, "__call__"), (wasmtime.Memory, "read"),
                      (wasmtime.Memory, "write"), (wasmtime.Memory, "data_len")]:
        monkeypatch.setattr(cls, name, slow_path)
    wasm = plugin_files["hellofs-wasm"].read_bytes()
    runtime = WasmRuntime(WasmLimits())

    async def mount_and_read():
        host = MemFS(validate_config("memfs", MemFS.config_schema, {}))
        plugin = WasmPlugin("hellofs", wasm, runtime, host, asyncio.get_running_loop())
        fs = plugin(plugin.check_config({}))
        await fs.start()
        try:
            instances = [plugin.probe, *plugin.pool_of(fs).instances]
            assert len(instances) == 2
            for instance in instances:
                assert instance.memory.fast
                assert all(func.fast for func in instance.funcs.values())
            return await fs.read("/hello.txt"), [e.name for e in await fs.readdir("/")]
        finally:
            await fs.shutdown()
            await plugin.aclose()

    try:
        with pytest.raises(AssertionError, match="slow"):  # the tripwire is live
            wasmtime.Func.__call__(None)
        assert asyncio.run(mount_and_read()) == (b"Hello World\n", ["hello.txt"])
    finally:
        runtime.close()
