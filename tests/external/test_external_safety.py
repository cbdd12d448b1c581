"""External plugins never stall or crash the server: loading from a FIFO, slow library
constructors, planted files in the temp directory, AGFS-ABI native plugins, plugins returning bad
pointers and lengths, and a clear typed answer for every way /plugins/load can fail."""

from __future__ import annotations

import os
import stat
import threading

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.external import HELLO_C, built_plugins, external_config

#: Long enough for any real answer on a loaded machine; a frozen server never answers.
HANG = 15
PAGE = os.sysconf("SC_PAGESIZE")


@pytest.fixture(scope="session")
def plugin_files(tmp_path_factory):
    return built_plugins(tmp_path_factory)


@pytest.fixture(scope="module")
def server(plugin_files):
    config = external_config(
        [plugin_files["hellofs-c"]], {"hellofs-c": {"enabled": True, "path": "/helloc"}}
    )
    with ServerProcess(config) as proc:
        yield proc


@pytest.fixture(scope="module")
def bad_mount(server, plugin_files):
    """badfs mounted at /bad."""
    with httpx.Client(base_url=server.api, timeout=60) as api:
        assert load(api, plugin_files["badfs"]).json()["plugin_name"] == "badfs"
        assert api.post("/mount", json={"fstype": "badfs", "path": "/bad"}).status_code == 200


def load(api, path, **kwargs):
    return api.post("/plugins/load", json={"library_path": str(path)}, **kwargs)


def unload(api, path):
    return api.post("/plugins/unload", json={"library_path": str(path)})


def assert_server_fine(api, server):
    assert api.get("/files", params={"path": "/helloc/hello"}).content == HELLO_C
    assert "Traceback" not in server.log()


def test_fifo_and_other_special_files_are_refused_without_blocking(api, server, tmp_path):
    fifo = tmp_path / "plugin.so"
    os.mkfifo(fifo)
    # Before: the magic-number read opened the FIFO on the event loop and the server froze.
    r = load(api, fifo, timeout=HANG)
    assert (r.status_code, r.json()) == (
        400,
        {"error": f"unsupported plugin type: unknown ({fifo} is not a regular file)"},
    )
    r = api.post("/plugins/unload", json={"library_path": str(fifo)}, timeout=HANG)
    assert r.status_code == 400
    r = load(api, "/dev/zero", timeout=HANG)
    assert (r.status_code, r.json()) == (
        400,
        {"error": "unsupported plugin type: unknown (/dev/zero is not a regular file)"},
    )
    assert_server_fine(api, server)


def test_a_slow_library_constructor_does_not_stall_the_server(start_server, plugin_files, tmp_path):
    server = start_server(external_config(), env={"SLOWLOAD_GATE": str(tmp_path)})
    api = server.client(timeout=HANG)
    answers = []
    loading = threading.Thread(target=lambda: answers.append(load(api, plugin_files["slowload"])))
    loading.start()
    try:
        while not (tmp_path / "started").exists():  # the constructor runs (and waits) now
            assert loading.is_alive()
            threading.Event().wait(0.01)
        # Before: dlopen ran on the event loop with the GIL held, so this request hung.
        r = api.put("/files", params={"path": "/memfs/during-load"}, content=b"served")
        assert r.status_code == 200
        assert api.get("/files", params={"path": "/memfs/during-load"}).content == b"served"
    finally:
        (tmp_path / "go").touch()
        loading.join()
    assert answers[0].json()["plugin_name"] == "slowload"


def test_second_load_copies_into_a_private_directory(start_server, plugin_files, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    victim = tmp_path / "victim"
    # A link planted where the copy used to go (<tmp>/<stem>.1.so): the copy followed it.
    planted = temp / "liberrfs.1.so"
    planted.symlink_to(victim)
    server = start_server(external_config(), env={"TMPDIR": str(temp)})
    api = server.client(timeout=HANG)
    path = plugin_files["errfs"]
    assert load(api, path).json()["plugin_name"] == "errfs"
    assert load(api, path).json()["plugin_name"] == "errfs-1"
    assert not victim.exists() and planted.is_symlink()
    (copy,) = [p for p in api.get("/plugins").json()["loaded_plugins"] if p != str(path)]
    private = os.path.dirname(copy)
    assert os.path.dirname(private) == str(temp) and os.path.basename(copy) == "liberrfs.1.so"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    assert unload(api, copy).status_code == 200
    assert not os.path.exists(copy)
    server.close()
    assert os.listdir(temp) == ["liberrfs.1.so"]  # the private directory went with the server


def test_agfs_abi_plugin_writes_are_counts_not_pointers(api, server, plugin_files):
    path = plugin_files["agfsfs"]
    assert load(api, path).json()["plugin_name"] == "agfsfs"
    assert api.post("/mount", json={"fstype": "agfsfs", "path": "/agfs"}).status_code == 200
    try:
        # Before its ABI is known, a count larger than the body (a wrong one) is checked as the
        # original's message pointer: not readable, so an error, not a crash.
        r = api.put("/files", params={"path": "/agfs/overcount"}, content=b"abc")
        assert (r.status_code, r.json()) == (
            500,
            {
                "error": "/agfs/overcount: write failed: FSWrite returned 4, "
                "neither a byte count of at most 3 nor a "
                "readable message"
            },
        )
        # Before: the byte count 5 was read as a char* and the server died of SIGSEGV.
        r = api.put("/files", params={"path": "/agfs/f"}, content=b"hello")
        assert (r.status_code, r.json()) == (200, {"message": "Written 5 bytes"})
        assert api.get("/files", params={"path": "/agfs/f"}).content == b"hello"
        # Driven as AGFS drives it: no position, CREATE | TRUNCATE.
        last = api.get("/files", params={"path": "/agfs/last-call"}).content
        assert last == b"offset=-1 flags=10"
        # The count showed AGFS's ABI: offsets and append now reach the plugin as they are.
        r = api.put("/files", params={"path": "/agfs/f", "offset": 7}, content=b"x")
        assert r.status_code == 200
        last = api.get("/files", params={"path": "/agfs/last-call"}).content
        assert last == b"offset=7 flags=2"
        api.put("/files", params={"path": "/agfs/f", "flags": "append"}, content=b"x")
        last = api.get("/files", params={"path": "/agfs/last-call"}).content
        assert last == b"offset=-1 flags=1"
        r = api.put("/files", params={"path": "/agfs/fail"}, content=b"x")
        assert (r.status_code, r.json()) == (500, {"error": "/agfs/fail: write failed"})
        # Known to count, a wrong count is never taken for a pointer.
        r = api.put("/files", params={"path": "/agfs/overcount"}, content=b"abc")
        assert (r.status_code, r.json()) == (
            500,
            {"error": "/agfs/overcount: write failed: FSWrite reported 4 bytes written of 3"},
        )
        r = api.put("/files", params={"path": "/agfs/f"}, content=b"")
        assert (r.status_code, r.json()) == (200, {"message": "Written 0 bytes"})
        assert api.get("/files", params={"path": "/agfs/f"}).content == b""
        # The original ABI's message pointers still work side by side.
        r = api.put("/files", params={"path": "/helloc/hello"}, content=b"x")
        assert r.json() == {"message": "operation not supported: read-only filesystem"}
    finally:
        api.post("/unmount", json={"path": "/agfs"})
        unload(api, path)
    assert_server_fine(api, server)


UNREADABLE = "is not readable memory (or has no terminating NUL)"


@pytest.mark.parametrize(
    "method, url, params, error",
    [
        (
            "GET",
            "/files",
            {"path": "/bad/bad-pointer"},
            "FSRead: 10 bytes at 0x10 are not readable memory",
        ),
        ("GET", "/files", {"path": "/bad/huge-length"}, "FSRead: 2147483647 bytes at 0x"),
        ("GET", "/files", {"path": "/bad/past-the-end"}, f"FSRead: {PAGE + 100} bytes at 0x"),
        ("GET", "/files", {"path": "/bad/error-without-nul"}, "FSRead: the string at 0x"),
        (
            "GET",
            "/files",
            {"path": "/bad/any", "size": 4},
            "FSRead returned 10 bytes for a read of at most 4",
        ),
        (
            "PUT",
            "/files",
            {"path": "/bad/bad-pointer"},
            "write failed: FSWrite returned 16, neither a byte count of at most 1 "
            "nor a readable message",
        ),
        ("PUT", "/files", {"path": "/bad/no-nul"}, "write failed: FSWrite returned "),
        ("GET", "/stat", {"path": "/bad/bad-pointer"}, "FSStat: 64 bytes at 0x10 are not readable"),
        (
            "GET",
            "/stat",
            {"path": "/bad/bad-name"},
            f"FSStat Name: the string at 0x10 {UNREADABLE}",
        ),
        ("GET", "/stat", {"path": "/bad/no-nul-meta"}, "FSStat MetaContent: the string at 0x"),
        (
            "GET",
            "/directories",
            {"path": "/bad/absurd-count"},
            "FSReadDir returned a count of 2147483647 (at most 1048576)",
        ),
        ("GET", "/directories", {"path": "/bad/bad-items"}, "FSReadDir Items: 64 bytes at 0x10"),
        ("GET", "/directories", {"path": "/bad/bad-array"}, "FSReadDir: 16 bytes at 0x10"),
        (
            "POST",
            "/files",
            {"path": "/bad/bad-pointer"},
            f"FSCreate: the string at 0x10 {UNREADABLE}",
        ),
        ("POST", "/files", {"path": "/bad/no-nul"}, "FSCreate: the string at 0x"),
    ],
)
def test_bad_results_are_errors_not_crashes(api, server, bad_mount, method, url, params, error):
    # Before: each of these read through the plugin's pointer and killed the server.
    r = api.request(method, url, params=params, content=b"d" if method == "PUT" else None)
    assert r.status_code == 500
    assert r.json()["error"].startswith(f"{params['path']}: {error}"), r.json()
    assert_server_fine(api, server)


def test_good_results_of_the_bad_plugin_still_work(api, bad_mount):
    assert api.get("/files", params={"path": "/bad/x"}).content == b"0123456789"
    # NULL data with a length is the original ABI's empty read.
    assert api.get("/files", params={"path": "/bad/null-with-length"}).content == b""
    assert api.put("/files", params={"path": "/bad/x"}, content=b"d").json() == {"message": "fine"}
    assert api.get("/stat", params={"path": "/bad/x"}).json()["name"] == "good"
    assert [
        e["name"] for e in api.get("/directories", params={"path": "/bad"}).json()["files"]
    ] == ["good"]


def _patched(source, tmp_path, name, offset, value: bytes):
    data = bytearray(source.read_bytes())
    data[offset : offset + len(value)] = value
    target = tmp_path / name
    target.write_bytes(bytes(data))
    return target


def test_every_load_failure_is_a_clear_typed_answer(api, server, plugin_files, tmp_path):
    minimal = plugin_files["minimal"]
    directory = tmp_path / "dir.so"
    directory.mkdir()
    fifo = tmp_path / "fifo.so"
    os.mkfifo(fifo)
    text = tmp_path / "notes.txt"
    text.write_text("not a plugin\n")
    fake = tmp_path / "libfake.so"
    fake.write_text("not an ELF file\n")
    windows = tmp_path / "plugin.dll"
    windows.write_bytes(b"MZ" + bytes(100))
    arm = _patched(minimal, tmp_path, "libarm.so", 18, (40).to_bytes(2, "little"))
    elf32 = _patched(minimal, tmp_path, "lib32.so", 4, b"\x01")
    unreadable = tmp_path / "secret.so"
    unreadable.write_bytes(minimal.read_bytes())
    unreadable.chmod(0)
    ours = "a 64-bit little endian ELF library for machine "
    cases = [
        (
            tmp_path / "missing.so",
            404,
            f"failed to detect plugin type: plugin file not found: {tmp_path / 'missing.so'}",
        ),
        (directory, 400, f"unsupported plugin type: unknown ({directory} is a directory)"),
        (fifo, 400, f"unsupported plugin type: unknown ({fifo} is not a regular file)"),
        (text, 400, "unsupported plugin type: unknown"),
        (fake, 400, f"failed to open library {fake}: not a shared library (no ELF header)"),
        (
            windows,
            400,
            f"failed to open library {windows}: wrong ABI: the file is a PE (Windows) library, "
            f"this server loads {ours}",
        ),
        (
            arm,
            400,
            f"failed to open library {arm}: wrong ABI: the file is {ours}40, "
            f"this server loads {ours}",
        ),
        (elf32, 400, f"failed to open library {elf32}: wrong ABI: the file is a 32-bit "),
        (
            plugin_files["nonew"],
            400,
            "failed to create plugin wrapper: plugin missing required PluginNew function",
        ),
        ("/tmp/a\x00b.so", 400, "failed to detect plugin type: invalid path "),
    ]
    if os.geteuid() != 0:  # root reads anything
        cases.append(
            (unreadable, 403, f"failed to detect plugin type: {unreadable}: permission denied")
        )
    for path, status, error in cases:
        r = load(api, path, timeout=HANG)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"].startswith(error), (path, r.json())
    assert str(minimal) not in api.get("/plugins").json()["loaded_plugins"]
    assert_server_fine(api, server)
