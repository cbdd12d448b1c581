"""A native plugin written against AGFS's ABI v2 (agfsmemfs: int64 FSWrite with offset and flags,
an in-memory store) over HTTP, next to an original-ABI plugin (hellofs-c) on one server: writes
at offsets and appends, reads, listings, renames and removals; the ``abi`` override (configured,
at run time, wrongly declared) and the auto ABI learning from the first byte count."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.helpers.external import HELLO_C, built_plugins, external_config

READ_ONLY = "operation not supported: read-only filesystem"


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)


@pytest.fixture(scope="module")
def server(plugin_files):
    from pfs.testing.server import ServerProcess

    config = external_config(
        [{"path": str(plugin_files["agfsmemfs"]), "abi": "agfs"}, plugin_files["hellofs-c"]],
        {
            "agfsmemfs": {"enabled": True, "path": "/am"},
            "hellofs-c": {"enabled": True, "path": "/helloc"},
        },
    )
    with ServerProcess(config) as proc:
        yield proc


def put(api, path, data, **params):
    return api.put("/files", params={"path": path, **params}, content=data)


def read(api, path, **params):
    return api.get("/files", params={"path": path, **params}).content


def names(api, path):
    return sorted(e["name"] for e in api.get("/directories", params={"path": path}).json()["files"])


def load(api, path, **body):
    return api.post("/plugins/load", json={"library_path": str(path), **body})


def test_writes_at_offsets_and_appends_reach_the_store(api):
    r = put(api, "/am/f", b"hello world")
    assert (r.status_code, r.json()) == (200, {"message": "Written 11 bytes"})
    assert put(api, "/am/f", b"WORLD", offset=6).json() == {"message": "Written 5 bytes"}
    assert read(api, "/am/f") == b"hello WORLD"
    assert put(api, "/am/f", b"!", flags="append").status_code == 200
    assert read(api, "/am/f") == b"hello WORLD!"
    # Past the end: the gap reads as zeros.
    assert put(api, "/am/f", b"end", offset=14).status_code == 200
    assert read(api, "/am/f") == b"hello WORLD!\0\0end"
    assert read(api, "/am/f", offset=6, size=5) == b"WORLD"
    # A plain PUT still replaces the whole file (AGFS's offset -1, CREATE | TRUNCATE).
    assert put(api, "/am/f", b"new").json() == {"message": "Written 3 bytes"}
    assert read(api, "/am/f") == b"new"
    # An empty body is AGFS's NULL data: an empty file.
    assert put(api, "/am/f", b"").json() == {"message": "Written 0 bytes"}
    assert read(api, "/am/f") == b""
    assert api.get("/stat", params={"path": "/am/f"}).json()["size"] == 0


def test_directories_listing_rename_and_remove(api):
    assert api.post("/directories", params={"path": "/am/d"}).status_code == 201
    assert put(api, "/am/d/x", b"one").status_code == 200
    assert api.post("/directories", params={"path": "/am/d/sub"}).status_code == 201
    assert names(api, "/am/d") == ["sub", "x"]
    info = api.get("/stat", params={"path": "/am/d/x"}).json()
    assert (info["name"], info["size"], info["isDir"], info["meta"]["Type"]) == (
        "x",
        3,
        False,
        "file",
    )
    assert api.get("/stat", params={"path": "/am/d"}).json()["isDir"] is True
    r = api.post("/rename", params={"path": "/am/d"}, json={"newPath": "/am/e"})
    assert r.status_code == 200, r.text
    assert "d" not in names(api, "/am") and names(api, "/am/e") == ["sub", "x"]
    assert read(api, "/am/e/x") == b"one"
    assert api.delete("/files", params={"path": "/am/e/x"}).status_code == 200
    r = api.delete("/directories", params={"path": "/am/e"})
    assert (r.status_code, r.json()) == (500, {"error": "/am/e: directory not empty"})
    r = api.delete("/directories", params={"path": "/am/e", "recursive": "true"})
    assert r.status_code == 200
    assert "e" not in names(api, "/am")
    assert api.get("/stat", params={"path": "/am/e/sub"}).status_code == 500  # FSStat NULL


@pytest.mark.parametrize(
    "path, params, status, error",
    [
        # The plugin's -errno results are typed errors; its -1 would be a plain "write failed".
        ("/am/nodir/f", {}, 404, "no such file or directory: /am/nodir/f"),
        ("/am/keep", {"flags": "create,exclusive"}, 409, "file already exists: /am/keep"),
        ("/am/kdir", {}, 400, "is a directory: /am/kdir"),
        ("/am/absent", {"flags": "truncate"}, 404, "no such file or directory: /am/absent"),
    ],
)
def test_write_errors_are_typed_and_change_nothing(api, path, params, status, error):
    put(api, "/am/keep", b"kept")
    api.post("/directories", params={"path": "/am/kdir"})
    before = names(api, "/am")
    r = put(api, path, b"data", **params)
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert read(api, "/am/keep") == b"kept" and names(api, "/am") == before


def test_original_abi_plugin_side_by_side(api, plugin_files):
    assert api.get("/plugins").json()["loaded_plugins"] == [
        str(plugin_files["agfsmemfs"]),
        str(plugin_files["hellofs-c"]),
    ]
    assert read(api, "/helloc/hello") == HELLO_C
    # The original ABI's answer is a message, not a count (and no error channel).
    assert put(api, "/helloc/hello", b"x").json() == {"message": READ_ONLY}
    # It cannot write at an offset: refused before the call, never a whole-file replacement.
    r = put(api, "/helloc/hello", b"x", offset=3)
    assert r.status_code == 501
    assert r.json()["error"] == (
        "/helloc/hello: hellofs-c takes offset and append writes only with AGFS's ABI, "
        "which it has not shown yet (a plain write shows it; or load it with abi: agfs)"
    )
    assert put(api, "/am/side", b"by side").json() == {"message": "Written 7 bytes"}
    assert read(api, "/helloc/hello") == HELLO_C and read(api, "/am/side") == b"by side"


def test_auto_abi_is_learned_from_the_first_count(start_server, plugin_files):
    server = start_server(external_config())
    api = server.client(timeout=60)
    assert load(api, plugin_files["agfsmemfs"]).json()["plugin_name"] == "agfsmemfs"
    assert api.post("/mount", json={"fstype": "agfsmemfs", "path": "/am"}).status_code == 200
    # Before any count the ABI is unknown: an offset write could hit an original plugin, which
    # would replace the file with the piece, so it is refused and nothing is made.
    r = put(api, "/am/f", b"ab", offset=3)
    assert r.status_code == 501 and "load it with abi: agfs" in r.json()["error"]
    assert put(api, "/am/f", b"x", flags="append").status_code == 501
    assert api.get("/stat", params={"path": "/am/f"}).status_code == 500
    assert put(api, "/am/f", b"0123456789").json() == {"message": "Written 10 bytes"}
    assert put(api, "/am/f", b"ab", offset=3).json() == {"message": "Written 2 bytes"}
    assert put(api, "/am/f", b"!", flags="append").status_code == 200
    assert read(api, "/am/f") == b"012ab56789!"
    assert "the plugin has AGFS's ABI" in server.log()


def test_a_wrongly_declared_abi_is_an_error_not_a_crash(start_server, plugin_files):
    server = start_server(external_config())
    api = server.client(timeout=60)
    # The original's message pointer declared a count: far more than the body, refused.
    assert load(api, plugin_files["hellofs-c"], abi="agfs").status_code == 200
    assert api.post("/mount", json={"fstype": "hellofs-c", "path": "/c"}).status_code == 200
    r = put(api, "/c/hello", b"x")
    assert r.status_code == 500
    assert r.json()["error"].startswith("/c/hello: write failed: FSWrite reported ")
    assert r.json()["error"].endswith(" bytes written of 1")
    # AGFS's count declared a message pointer: 5 is no readable address, refused.
    assert load(api, plugin_files["agfsmemfs"], abi="pfs").status_code == 200
    assert api.post("/mount", json={"fstype": "agfsmemfs", "path": "/am"}).status_code == 200
    r = put(api, "/am/f", b"hello")
    assert (r.status_code, r.json()) == (
        500,
        {"error": "/am/f: write failed: FSWrite returned 5, not a readable message"},
    )
    # Declared pfs, offsets stay refused whatever the plugin answered.
    assert put(api, "/am/f", b"x", offset=2).status_code == 501
    assert read(api, "/c/hello") == HELLO_C
    assert api.get("/health").status_code == 200 and "Traceback" not in server.log()


def test_bad_abi_at_run_time_is_400(start_server, plugin_files):
    server = start_server(external_config())
    api = server.client(timeout=60)
    r = load(api, plugin_files["agfsmemfs"], abi="v2")
    assert (r.status_code, r.json()) == (
        400,
        {"error": "abi: must be one of auto, pfs, agfs, got 'v2'"},
    )
    r = load(api, plugin_files["agfsmemfs"], abi=2)
    assert r.status_code == 400 and "abi must be str" in r.json()["error"]
    r = load(api, plugin_files["hellofs-wasm"], abi="agfs")
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": f"abi agfs applies to native libraries only; "
            f"{plugin_files['hellofs-wasm']} is a WASM module"
        },
    )
    assert api.get("/plugins").json() == {"loaded_plugins": []}


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {"path": "/x/lib.so", "abi": "v2"},
            "external_plugins.plugin_paths[0].abi: must be one of auto, pfs, agfs, got 'v2'",
        ),
        (
            {"path": "/x/lib.so", "kind": "native"},
            "external_plugins.plugin_paths[0]: unknown key(s) kind (allowed: path, abi)",
        ),
        ({"abi": "agfs"}, "external_plugins.plugin_paths[0]: must be a file path or {path, abi}"),
    ],
)
def test_bad_abi_in_the_config_stops_the_cli(tmp_path, entry, message):
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"external_plugins": {"enabled": True, "plugin_paths": [entry]}})
    )
    done = subprocess.run(
        [sys.executable, "-m", "pfs.server.cli", "-addr", "127.0.0.1:1", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_handles_write_in_place_through_the_agfs_abi(api):
    # FUSE's way: a handle writes a piece at an offset, which reaches FSWrite as that offset.
    assert put(api, "/am/h", b"0123456789").status_code == 200
    r = api.post("/handles/open", params={"path": "/am/h", "flags": 2})  # RDWR
    assert r.status_code == 200, r.text
    handle = r.json()["handle_id"]
    try:
        r = api.put(f"/handles/{handle}/write", params={"offset": 3}, content=b"ab")
        assert (r.status_code, r.json()["bytes_written"]) == (200, 2)
        r = api.get(f"/handles/{handle}/read", params={"offset": 0, "size": 100})
        assert r.content == b"012ab56789"
    finally:
        assert api.delete(f"/handles/{handle}").status_code == 200
    assert read(api, "/am/h") == b"012ab56789"
    # The original ABI replaces whole files only: no handle for writing (FUSE falls back).
    r = api.post("/handles/open", params={"path": "/helloc/hello", "flags": 1})
    assert r.status_code == 501
    assert read(api, "/helloc/hello") == HELLO_C


def test_a_large_offset_write_arrives_whole(api):
    # Bodies past the inline size are staged, then written once at their offset.
    big = bytes(range(256)) * 1024  # 256 KiB
    assert put(api, "/am/big", b"head").status_code == 200
    r = put(api, "/am/big", big, offset=2)
    assert (r.status_code, r.json()) == (200, {"message": f"Written {len(big)} bytes"})
    assert read(api, "/am/big") == b"he" + big
    assert put(api, "/am/big", big, flags="append").status_code == 200
    assert api.get("/stat", params={"path": "/am/big"}).json()["size"] == 2 + 2 * len(big)
