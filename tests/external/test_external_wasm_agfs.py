"""WASM plugins on AGFS's ABI (AGFS.md §7) over HTTP: agfswasm (tests/external/sources/agfswasm.c,
5-argument fs_write, handle_*, host_http_request, shared buffers, a host-called free) loaded
beside the original-ABI hellofs-wasm; the per-mount allow-list of host_http_request against a
real local HTTP server; the instance pool (concurrency, config replay, recycling, acquire
timeout, a new pool after the last unmount)."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.external import built_plugins, external_config

#: Threads that must be inside /barrier at once before any of them is answered.
BARRIER_PARTIES = 4


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)


class _Handler(BaseHTTPRequestHandler):
    barrier = threading.Barrier(BARRIER_PARTIES, timeout=30)
    seen_headers: list[dict[str, str]] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).seen_headers.append(dict(self.headers))
        if self.path == "/hello":
            self._answer(200, b"hi from the test server", {"X-Test": "yes"})
        elif self.path == "/big":
            self._answer(200, b"x" * 4096)
        elif self.path == "/redirect":
            self._answer(302, b"", {"Location": "http://example.invalid/"})
        elif self.path == "/barrier":
            try:
                type(self).barrier.wait()
            except threading.BrokenBarrierError:
                self._answer(500, b"not together")
                return
            self._answer(200, b"together")
        else:
            self._answer(404, b"no such page")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web():
    """A real HTTP server on a free port: host:port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(plugin_files, web):
    """One instance per plugin: the guest's files and handles are in that instance's memory."""
    config = external_config(
        [plugin_files["agfswasm"], plugin_files["hellofs-wasm"]],
        {
            "agfswasm": {"enabled": True, "path": "/aw", "config": {
                "greeting": "hi", "http_allowed_hosts": [web], "host_paths": ["/memfs"]}},
            "hellofs-wasm": {"enabled": True, "path": "/hw"},
        },
        wasm={"instance_pool_size": 1, "acquire_timeout": "1s", "http_max_response": 1024},
    )
    with ServerProcess(config) as proc:
        yield proc


def _read(api, path: str) -> bytes:
    r = api.get("/files", params={"path": path})
    assert r.status_code == 200, (path, r.text)
    return r.content


def test_loaded_beside_an_original_abi_module(api, plugin_files):
    assert api.get("/plugins").json() == {"loaded_plugins": [
        str(plugin_files["agfswasm"]), str(plugin_files["hellofs-wasm"])]}
    assert _read(api, "/hw/hello.txt") == b"Hello World\n"
    r = api.put("/files", params={"path": "/aw/both.txt"}, content=b"written by AGFS's ABI")
    assert r.status_code == 200, r.text
    assert _read(api, "/aw/both.txt") == b"written by AGFS's ABI"
    assert api.put("/files", params={"path": "/hw/hello.txt"}, content=b"x").json() == {
        "error": "/hw/hello.txt: write failed"}


def test_five_argument_write_takes_offset_and_flags(api):
    assert api.put("/files", params={"path": "/aw/a.txt"}, content=b"hello world").status_code \
        == 200
    # A whole-file write replaces (offset -1, CREATE|TRUNCATE): shorter content leaves no tail.
    api.put("/files", params={"path": "/aw/a.txt"}, content=b"hello there")
    assert _read(api, "/aw/a.txt") == b"hello there"
    r = api.put("/files", params={"path": "/aw/a.txt", "offset": 6}, content=b"WASM!")
    assert r.status_code == 200, r.text
    assert _read(api, "/aw/a.txt") == b"hello WASM!"
    r = api.get("/files", params={"path": "/aw/a.txt", "offset": 6, "size": 2})
    assert r.content == b"WA"
    info = api.get("/stat", params={"path": "/aw/a.txt"}).json()
    assert (info["name"], info["size"], info["mode"], info["isDir"]) == ("a.txt", 11, 420, False)
    assert info["meta"] == {"Name": "agfswasm", "Type": "file", "Content": None}
    names = [e["name"] for e in api.get("/directories", params={"path": "/aw"}).json()["files"]]
    assert "a.txt" in names
    # An empty body writes an empty file (the host allocates at least a byte).
    assert api.put("/files", params={"path": "/aw/empty"}, content=b"").status_code == 200
    assert _read(api, "/aw/empty") == b""


def test_host_fs_write_answers_the_byte_count(api):
    """v2's host_fs_write returns the count written (the module checks it equals the length)."""
    r = api.put("/files", params={"path": "/aw/host/memfs/via-host.txt"}, content=b"relayed")
    assert r.status_code == 200, r.text
    assert _read(api, "/memfs/via-host.txt") == b"relayed"
    assert _read(api, "/aw/host/memfs/via-host.txt") == b"relayed"
    r = api.put("/files", params={"path": "/aw/host/elsewhere/x"}, content=b"x")
    assert (r.status_code, r.json()) == (500, {"error": "/aw/host/elsewhere/x: write failed: "
                                                        "host write failed"})


def test_guest_errors_leave_files_unchanged(api):
    api.put("/files", params={"path": "/aw/keep.txt"}, content=b"kept")
    for method, params, body, expected in [
        ("PUT", {"path": "/aw/sub/x"}, b"x", "/aw/sub/x: write failed: no such directory"),
        ("PUT", {"path": "/aw/keep.txt", "offset": 70000}, b"x",
         "/aw/keep.txt: write failed: file too large: 65536 bytes at most"),
        ("GET", {"path": "/aw/missing"}, None, "/aw/missing: read failed"),
        ("POST", {"path": "/aw/keep.txt"}, None, "/aw/keep.txt: file already exists"),
    ]:
        r = api.request(method, "/files", params=params, content=body)
        assert (r.status_code, r.json()) == (500, {"error": expected}), params
    r = api.post("/directories", params={"path": "/aw/d"})
    assert (r.status_code, r.json()) == (
        500, {"error": "/aw/d: permission denied: agfswasm has no directories"})
    assert _read(api, "/aw/keep.txt") == b"kept"


def test_shared_buffer_holds_one_argument_and_the_host_frees(api):
    shared_before = int(_read(api, "/aw/shared"))
    frees_before = [int(n) for n in _read(api, "/aw/frees").split()]
    # Path and data both fit the 4 KiB input buffer; only the data goes there, so the path
    # arrives intact and the bytes land in the file named.
    api.put("/files", params={"path": "/aw/small.txt"}, content=b"through the shared buffer")
    assert _read(api, "/aw/small.txt") == b"through the shared buffer"
    # One argument per call: the paths of the reads of /aw/frees, /aw/small.txt and /aw/shared,
    # the write's data, and the paths of the stats the three GETs make for their ETags.
    assert int(_read(api, "/aw/shared")) == shared_before + 4 + 3
    sized, unsized = (int(n) for n in _read(api, "/aw/frees").split())
    # The write's path (malloc'd, freed with its size); every read's result (freed with 0).
    assert sized > frees_before[0] and unsized > frees_before[1]


def test_config_params_and_replayed_config(api, plugin_files):
    config = json.loads(_read(api, "/aw/config"))
    # The guest sees its own keys and mount_path, never the server's (http_allowed_hosts).
    assert config == {"greeting": "hi", "mount_path": "/aw"}
    infos = {p["name"]: p for p in api.get("/plugins", params={"format": "agfs"}).json()["plugins"]}
    assert infos["agfswasm"]["config_params"] == [{
        "name": "greeting", "type": "string", "required": False, "default": "hello",
        "description": "text of /config's reader"}]
    assert infos["agfswasm"]["library_path"] == str(plugin_files["agfswasm"])
    assert "config_params" not in infos["hellofs-wasm"]


def test_handles_on_the_guest(api):
    r = api.post("/handles/open", params={"path": "/aw/h.txt", "flags": 2 | 16})
    assert r.status_code == 200, r.text
    hid = r.json()["handle_id"]
    base = f"/handles/{hid}"
    try:
        assert api.put(f"{base}/write", content=b"abcdef").json()["bytes_written"] == 6
        assert api.post(f"{base}/seek", params={"offset": 2}).json()["position"] == 2
        assert api.get(f"{base}/read", params={"size": 3}).content == b"cde"
        assert api.get(f"{base}/read", params={"size": 2, "offset": 0}).content == b"ab"
        assert api.put(f"{base}/write", params={"offset": 6}, content=b"gh").status_code == 200
        assert api.post(f"{base}/seek", params={"offset": 0, "whence": 2}).json()["position"] == 8
        assert api.get(f"{base}/read", params={"size": 10}).content == b""
        info = api.get(f"{base}/stat").json()
        assert (info["name"], info["size"]) == ("h.txt", 8)
        assert api.post(f"{base}/sync").status_code == 200
        # The handle pins the only instance: other calls wait, then fail naming the limit.
        r = api.get("/files", params={"path": "/aw/h.txt"})
        assert r.status_code == 503
        assert "no free instance within 1s: all 1 are busy" in r.json()["error"]
        assert "instance_pool_size" in r.json()["error"]
    finally:
        assert api.delete(base).status_code == 200
    assert _read(api, "/aw/h.txt") == b"abcdefgh"


def test_handle_errors_come_from_the_guest(api):
    r = api.post("/handles/open", params={"path": "/aw/none.txt", "flags": 0})
    assert (r.status_code, r.json()["error"]) == (
        500, "/aw/none.txt: open handle failed: file not found")
    api.put("/files", params={"path": "/aw/ro.txt"}, content=b"read only")
    hid = api.post("/handles/open", params={"path": "/aw/ro.txt", "flags": 0}).json()["handle_id"]
    try:
        r = api.put(f"/handles/{hid}/write", content=b"x")
        assert r.status_code == 500
        assert r.json()["error"].endswith("write failed: handle not opened for writing")
        assert api.get(f"/handles/{hid}/read", params={"size": 4}).content == b"read"
    finally:
        api.delete(f"/handles/{hid}")
    assert _read(api, "/aw/ro.txt") == b"read only"


def test_original_abi_module_has_no_handles(api):
    r = api.post("/handles/open", params={"path": "/hw/hello.txt", "flags": 0})
    assert r.status_code == 501
    assert "handle_open not implemented in WASM plugin hellofs-wasm" in r.json()["error"]


def _http(api, path: str) -> dict:
    return json.loads(_read(api, path))


def test_http_request_to_an_allowed_host(api, web):
    answer = _http(api, f"/aw/http/{web}/hello")
    assert answer["status_code"] == 200
    assert base64.b64decode(answer["body"]) == b"hi from the test server"
    assert answer["headers"]["x-test"] == "yes"
    assert "error" not in answer
    assert _Handler.seen_headers[-1]["X-Agfswasm"] == "1"
    # Redirects are answered, not followed (the target may not be allowed).
    answer = _http(api, f"/aw/http/{web}/redirect")
    assert (answer["status_code"], answer["headers"]["location"]) == (
        302, "http://example.invalid/")


def test_http_response_size_is_bounded(api, web):
    answer = _http(api, f"/aw/http/{web}/big")
    assert answer["status_code"] == 0
    assert answer["error"] == (
        "failed to read response body: it exceeds the limit of 1024 bytes "
        "(external_plugins.wasm.http_max_response)")


def test_http_request_refused_without_the_host_in_the_allow_list(api, web):
    seen = len(_Handler.seen_headers)
    answer = _http(api, "/aw/http/127.0.0.2:9/hello")
    assert answer == {"status_code": 0, "headers": {}, "body": "", "error": (
        "request failed: host of http://127.0.0.2:9/hello is not in this mount's "
        f"http_allowed_hosts ({web})")}
    # A second mount of its own config (no allow-list) reaches nothing, not even the test server.
    r = api.post("/mount", json={"fstype": "agfswasm", "path": "/aw2", "config": {}})
    assert r.status_code == 200, r.text
    try:
        answer = _http(api, f"/aw2/http/{web}/hello")
        assert answer["error"] == (
            f"request failed: host of http://{web}/hello is not in this mount's "
            "http_allowed_hosts (none)")
    finally:
        api.post("/unmount", json={"path": "/aw2"})
    assert len(_Handler.seen_headers) == seen
    r = api.post("/mount", json={"fstype": "agfswasm", "path": "/aw3",
                                 "config": {"http_allowed_hosts": "127.0.0.1"}})
    assert r.status_code == 400
    assert "'http_allowed_hosts' must be a list of host names" in r.json()["error"]


# -- the pool ------------------------------------------------------------------------------------


def _pool_server(start_server, plugin_files, web, **wasm):
    config = external_config(
        [plugin_files["agfswasm"]],
        {"agfswasm": {"enabled": True, "path": "/aw", "config": {
            "greeting": "pooled", "http_allowed_hosts": [web]}}},
        wasm=wasm,
    )
    server = start_server(config)
    return server.client(timeout=60)


def test_pool_instances_serve_concurrently(start_server, plugin_files, web):
    """Four reads meet at the test server's barrier: each holds its instance until all four are
    inside, so they can only all succeed when four instances run at once."""
    api = _pool_server(start_server, plugin_files, web, instance_pool_size=BARRIER_PARTIES)
    _Handler.barrier.reset()

    def meet(_):
        return _http(api, f"/aw/http/{web}/barrier")

    with ThreadPoolExecutor(BARRIER_PARTIES) as pool:
        answers = list(pool.map(meet, range(BARRIER_PARTIES)))
    assert [base64.b64decode(a["body"]) for a in answers] == [b"together"] * BARRIER_PARTIES
    # Every instance was set up with the mount's config before its first call.
    with ThreadPoolExecutor(BARRIER_PARTIES) as pool:
        configs = list(pool.map(lambda _: json.loads(_read(api, "/aw/config")), range(8)))
    assert configs == [{"greeting": "pooled", "mount_path": "/aw"}] * 8


def test_pool_recycles_after_max_requests_and_replays_the_config(start_server, plugin_files, web):
    # One instance without a limit counts every read of /aw/calls ...
    kept = _pool_server(start_server, plugin_files, web, instance_pool_size=1)
    assert [_read(kept, "/aw/calls") for _ in range(5)] == [b"1", b"2", b"3", b"4", b"5"]
    # ... with one acquisition each (a plain GET takes one: the stat for its ETag and the read
    # run in the same turn of an instance), every read lands on a new instance, which got the
    # mount's config replayed.
    api = _pool_server(start_server, plugin_files, web, instance_pool_size=1,
                       instance_max_requests=1)
    assert [_read(api, "/aw/calls") for _ in range(5)] == [b"1"] * 5
    assert json.loads(_read(api, "/aw/config")) == {"greeting": "pooled", "mount_path": "/aw"}


def test_pool_recycles_after_max_lifetime(start_server, plugin_files, web):
    import time

    api = _pool_server(start_server, plugin_files, web, instance_pool_size=1,
                       instance_max_lifetime="50ms")
    counts = []
    for _ in range(3):
        counts.append(_read(api, "/aw/calls"))
        time.sleep(0.06)  # past the lifetime: the next acquisition replaces the instance
    assert counts == [b"1", b"1", b"1"]


def test_new_pool_after_the_last_unmount(start_server, plugin_files, web):
    api = _pool_server(start_server, plugin_files, web, instance_pool_size=2)
    api.put("/files", params={"path": "/aw/gone.txt"}, content=b"in the old pool")
    assert api.post("/unmount", json={"path": "/aw"}).status_code == 200
    r = api.post("/mount", json={"fstype": "agfswasm", "path": "/again",
                                 "config": {"greeting": "second"}})
    assert r.status_code == 200, r.text
    assert json.loads(_read(api, "/again/config")) == {"greeting": "second",
                                                       "mount_path": "/again"}
    r = api.get("/files", params={"path": "/again/gone.txt"})
    assert (r.status_code, r.json()) == (500, {"error": "/again/gone.txt: read failed"})


def test_failed_mount_keeps_the_pool_config(start_server, plugin_files, web):
    api = _pool_server(start_server, plugin_files, web, instance_pool_size=1)
    r = api.post("/mount", json={"fstype": "agfswasm", "path": "/bad", "config": {"reject": True}})
    assert r.status_code == 400
    assert "validation failed: invalid config: reject is set" in r.json()["error"]
    assert json.loads(_read(api, "/aw/config"))["greeting"] == "pooled"


def test_unmount_closes_handles_and_the_pool_comes_back(start_server, plugin_files, web):
    api = _pool_server(start_server, plugin_files, web, instance_pool_size=1)
    hid = api.post("/handles/open", params={"path": "/aw/x", "flags": 1 | 16}).json()["handle_id"]
    assert api.post("/unmount", json={"path": "/aw"}).status_code == 200
    assert api.get(f"/handles/{hid}").status_code == 404
    assert api.post("/mount", json={"fstype": "agfswasm", "path": "/aw"}).status_code == 200
    assert api.put("/files", params={"path": "/aw/y"}, content=b"y").status_code == 200


# -- in process ----------------------------------------------------------------------------------


def test_write_result_decoding():
    """AGFS.md §7.2: SDK-style first; AGFS-style (count high) only where it can be a count."""
    from pfs.external.wasm.abi import write_result

    assert write_result(5, 10) == (5, 0)            # SDK success
    assert write_result(0, 10) == (0, 0)            # nothing written
    assert write_result(7 << 32, 10) == (7, 0)      # AGFS success: count high, no error
    assert write_result(70000 << 32, 10) == (0, 70000)  # SDK error: a pointer past len
    assert write_result((3 << 32) | 1234, 10) == (0, 1234)  # both set: AGFS error low


def test_config_params_from_the_guest(plugin_files):
    import asyncio

    from pfs.external.wasm import WasmLimits, WasmPlugin, WasmRuntime
    from pfs.fs import validate_config
    from pfs.plugins.memfs import MemFS

    runtime = WasmRuntime(WasmLimits())

    async def load():
        host = MemFS(validate_config("memfs", MemFS.config_schema, {}))
        plugin = WasmPlugin("aw", plugin_files["agfswasm"].read_bytes(), runtime, host,
                            asyncio.get_running_loop())
        hello = WasmPlugin("hw", plugin_files["hellofs-wasm"].read_bytes(), runtime, host,
                           asyncio.get_running_loop())
        return (plugin.fstype, plugin.version, plugin.config_params, hello.version,
                hello.config_params)

    try:
        assert asyncio.run(load()) == ("agfswasm", 2, [{
            "name": "greeting", "type": "string", "required": False, "default": "hello",
            "description": "text of /config's reader"}], 1, [])
    finally:
        runtime.close()


@pytest.mark.parametrize("wasm, message", [
    ({"instance_pool_size": "many"},
     "external_plugins.wasm.instance_pool_size: must be a whole number"),
    ({"instance_max_requests": -1},
     "external_plugins.wasm.instance_max_requests: must be a whole number >= 0"),
    ({"instance_max_lifetime": "forever"},
     "external_plugins.wasm.instance_max_lifetime: must be a duration"),
    ({"enable_pool_statistics": "yes"},
     "external_plugins.wasm.enable_pool_statistics: must be true or false"),
])
def test_bad_pool_keys_refused_by_the_config(wasm, message):
    from pfs.plugins.registry import Registry
    from pfs.server.config import ConfigError, settings_from_dict

    # Checked even with external plugins off.
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"external_plugins": {"enabled": False, "wasm": wasm}}, Registry())


def test_agfs_pool_keys_accepted():
    from pfs.external.loader import wasm_limits

    limits = wasm_limits({"instance_pool_size": 0, "instance_max_lifetime": 300,
                          "instance_max_requests": 1000, "health_check_interval": 60,
                          "enable_pool_statistics": True})
    assert (limits.pool_size, limits.max_lifetime, limits.max_requests) == (10, 300.0, 1000)
