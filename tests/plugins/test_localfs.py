"""localfs over a real server: every operation, modes and times, read-only mounts, mount errors,
and the escape corpus (nothing outside local_dir is ever read or written)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from pfs.fs.fileinfo import parse_time_ns
from pfs.testing.server import ServerProcess

SECRET = b"SECRET-OUTSIDE"
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> tuple[Path, Path]:
    """(local_dir, a directory outside it holding a secret)."""
    base = tmp_path_factory.mktemp("localfs")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (base / "secret.txt").write_bytes(SECRET)
    return root, outside


@pytest.fixture(scope="module")
def server(dirs):
    root, _ = dirs
    config = {"plugins": {
        "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(root)}},
        "localfs_ro": {"enabled": True, "path": "/ro",
                       "config": {"local_dir": str(root), "read_only": True}},
    }}
    with ServerProcess(config) as proc:
        yield proc


@pytest.fixture
def root(dirs) -> Path:
    return dirs[0]


@pytest.fixture
def outside(dirs) -> Path:
    return dirs[1]


def outside_untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == SECRET
    assert stat.S_IMODE((outside / "secret.txt").stat().st_mode) == 0o644


# -- operations ------------------------------------------------------------------------------


def test_write_read_stat_list_and_remove(api, root):
    assert api.put("/files", params={"path": "/local/a.txt"}, content=b"hello").json() == {
        "message": "Written 5 bytes to /a.txt"}
    assert (root / "a.txt").read_bytes() == b"hello"
    assert api.get("/files", params={"path": "/local/a.txt"}).content == b"hello"
    api.put("/files", params={"path": "/local/a.txt", "flags": "append"}, content=b" world")
    api.put("/files", params={"path": "/local/a.txt", "offset": 0, "flags": "create"},
            content=b"J")
    assert (root / "a.txt").read_bytes() == b"Jello world"
    assert api.get("/files", params={"path": "/local/a.txt", "offset": 6, "size": 3}
                   ).content == b"wor"
    assert api.post("/files", params={"path": "/local/empty"}).status_code == 201
    assert api.post("/directories", params={"path": "/local/d", "mode": "700"}
                    ).status_code == 201
    assert stat.S_IMODE((root / "d").stat().st_mode) == 0o700
    info = api.get("/stat", params={"path": "/local/a.txt"}).json()
    assert (info["name"], info["size"], info["isDir"]) == ("a.txt", 11, False)
    assert info["meta"] == {"Name": "localfs", "Type": "local",
                            "Content": {"local_path": str(root / "a.txt")}}
    listing = api.get("/directories", params={"path": "/local"}).json()["files"]
    names = [e["name"] for e in listing]
    assert names == sorted(names) and {"a.txt", "empty", "d"} <= set(names)
    assert api.delete("/files", params={"path": "/local/a.txt"}).status_code == 200
    api.delete("/files", params={"path": "/local/empty"})
    api.delete("/files", params={"path": "/local/d"})
    assert not (root / "a.txt").exists() and not (root / "d").exists()


def test_go_file_mode_bits_and_times(api, root):
    (root / "m").mkdir(mode=0o755)
    os.chmod(root / "m", 0o755)
    (root / "m" / "f").write_bytes(b"x")
    os.chmod(root / "m" / "f", 0o640)
    os.utime(root / "m" / "f", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.symlink("f", root / "m" / "link")
    os.mkfifo(root / "m" / "fifo")
    entries = {e["name"]: e for e in api.get("/directories", params={"path": "/local/m"})
               .json()["files"]}
    assert entries["f"]["mode"] == 0o640
    assert entries["link"]["mode"] == GO_SYMLINK | 0o777 and not entries["link"]["isDir"]
    assert entries["fifo"]["mode"] & (1 << 25)
    directory = api.get("/stat", params={"path": "/local/m"}).json()
    assert directory["mode"] == GO_DIR | 0o755 == 2147484141 and directory["isDir"]
    info = api.get("/stat", params={"path": "/local/m/f"}).json()
    assert parse_time_ns(info["modTime"]) == 1_600_000_000_123_456_789
    root_info = api.get("/stat", params={"path": "/local"}).json()
    assert root_info["name"] == root.name and root_info["isDir"]
    api.delete("/files", params={"path": "/local/m", "recursive": "true"})


def test_chmod_and_replace_keep_permissions(api, root):
    api.put("/files", params={"path": "/local/p.txt"}, content=b"one")
    assert api.post("/chmod", params={"path": "/local/p.txt"}, json={"mode": 0o600}
                    ).status_code == 200
    assert stat.S_IMODE((root / "p.txt").stat().st_mode) == 0o600
    api.put("/files", params={"path": "/local/p.txt"}, content=b"two")
    assert stat.S_IMODE((root / "p.txt").stat().st_mode) == 0o600
    assert (root / "p.txt").read_bytes() == b"two"
    assert not [p for p in root.iterdir() if "pfs-upload" in p.name]
    api.delete("/files", params={"path": "/local/p.txt"})


def test_rename_overwrites_and_moves_directories(api, root):
    api.put("/files", params={"path": "/local/r1"}, content=b"1")
    api.put("/files", params={"path": "/local/r2"}, content=b"2")
    assert api.post("/rename", params={"path": "/local/r1"}, json={"newPath": "/local/r2"}
                    ).status_code == 200
    assert (root / "r2").read_bytes() == b"1" and not (root / "r1").exists()
    api.post("/directories", params={"path": "/local/rd"})
    api.post("/rename", params={"path": "/local/r2"}, json={"newPath": "/local/rd/r2"})
    api.post("/rename", params={"path": "/local/rd"}, json={"newPath": "/local/rd2"})
    assert (root / "rd2" / "r2").read_bytes() == b"1"
    api.delete("/files", params={"path": "/local/rd2", "recursive": "true"})


@pytest.mark.parametrize(
    ("method", "endpoint", "params", "kwargs", "status", "message"),
    [
        ("GET", "/files", {"path": "/local/missing"}, {}, 404,
         "no such file or directory: /local/missing"),
        ("GET", "/files", {"path": "/local/keep"}, {}, 400, "is a directory: /local/keep"),
        ("PUT", "/files", {"path": "/local/keep"}, {"content": b"x"}, 400,
         "is a directory: /local/keep"),
        ("POST", "/files", {"path": "/local/keep/f"}, {}, 409,
         "file already exists: /local/keep/f"),
        ("POST", "/directories", {"path": "/local/keep"}, {}, 409,
         "file already exists: /local/keep"),
        ("POST", "/files", {"path": "/local/nodir/f"}, {}, 404,
         "no such file or directory: /local/nodir/f"),
        ("DELETE", "/files", {"path": "/local/keep"}, {}, 409, "directory not empty: /local/keep"),
        ("DELETE", "/files", {"path": "/local/missing"}, {}, 404,
         "no such file or directory: /local/missing"),
        ("POST", "/rename", {"path": "/local/missing"}, {"json": {"newPath": "/local/x"}}, 404,
         "no such file or directory: /local/missing"),
        ("PUT", "/files", {"path": "/local/keep/f", "flags": "create,exclusive"},
         {"content": b"x"}, 409, "file already exists: /local/keep/f"),
        ("GET", "/files", {"path": "/local/keep/f%00x"}, {}, 400, "NUL"),
        ("GET", "/directories", {"path": "/local/nodir"}, {}, 404,
         "no such file or directory: /local/nodir"),
        ("GET", "/directories", {"path": "/local/keep/f"}, {}, 400,
         "not a directory: /local/keep/f"),
    ],
)
def test_bad_requests_leave_data_unchanged(api, root, method, endpoint, params, kwargs, status,
                                           message):
    (root / "keep").mkdir(exist_ok=True)
    (root / "keep" / "f").write_bytes(b"kept")
    params = {k: v.replace("%00", "\x00") for k, v in params.items()}
    response = api.request(method, endpoint, params=params, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert (root / "keep" / "f").read_bytes() == b"kept"


def test_fifo_is_refused_without_hanging(api, root):
    os.mkfifo(root / "pipe")
    response = api.get("/files", params={"path": "/local/pipe"})
    assert response.status_code == 403 and "not a regular file" in response.json()["error"]
    response = api.put("/files", params={"path": "/local/pipe"}, content=b"x")
    assert response.status_code == 403
    (root / "pipe").unlink()


def test_read_only_mount(api, root):
    (root / "ro.txt").write_bytes(b"readable")
    assert api.get("/files", params={"path": "/ro/ro.txt"}).content == b"readable"
    for method, endpoint, kwargs in (
        ("PUT", "/files", {"content": b"x"}), ("DELETE", "/files", {}),
        ("POST", "/chmod", {"json": {"mode": 0o600}}),
        ("POST", "/rename", {"json": {"newPath": "/ro/other"}}),
    ):
        response = api.request(method, endpoint, params={"path": "/ro/ro.txt"}, **kwargs)
        assert response.status_code == 403 and "read-only" in response.json()["error"]
    assert (root / "ro.txt").read_bytes() == b"readable"
    assert stat.S_IMODE((root / "ro.txt").stat().st_mode) == 0o644
    (root / "ro.txt").unlink()


@pytest.mark.parametrize(
    ("config", "message"),
    [({"local_dir": "/nonexistent/pfs-dir"}, "base path does not exist: /nonexistent/pfs-dir"),
     ({"local_dir": "/etc/hostname"}, "base path is not a directory: /etc/hostname"),
     ({}, "local_dir is required")],
)
def test_mount_errors(api, config, message):
    response = api.post("/mount", json={"fstype": "localfs", "path": "/bad", "config": config})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert "/bad" not in {m["path"] for m in api.get("/mounts").json()["mounts"]}


def test_missing_local_dir_in_config_file_fails_the_mount(tmp_path):
    """The server starts degraded (/ready 503, tests/server/test_status.py); ServerProcess,
    waiting for a ready server, reports the mount's error."""
    config = {"plugins": {"localfs": {"enabled": True, "path": "/l",
                                      "config": {"local_dir": str(tmp_path / "nope")}}}}
    with pytest.raises(RuntimeError, match="base path does not exist"):
        ServerProcess(config).close()


# -- escape corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_query",
    [
        "path=/local/../secret.txt",
        "path=/local/../../secret.txt",
        "path=/local/d/../../secret.txt",
        "path=/local/%2e%2e/secret.txt",
        "path=/local/%2E%2E/%2e%2e/secret.txt",
        "path=/local/..%2fsecret.txt",
        "path=/local/%252e%252e/secret.txt",
        "path=/local/..%5c..%5csecret.txt",
        "path=/local/%EF%BC%8E%EF%BC%8E/secret.txt",
        "path=//local/../../outside/secret.txt",
        "path=/local//etc/passwd",
        "path=/local/../../../../../../etc/passwd",
    ],
)
def test_escape_by_path_is_refused(server, api, outside, raw_query):
    """``..`` in every spelling and absolute paths never leave local_dir."""
    response = api.get(f"{server.api}/files?{raw_query}")
    assert response.status_code in (400, 403, 404), response.text
    assert SECRET not in response.content and b"root:" not in response.content
    assert "error" in response.json()
    write = api.put(f"{server.api}/files?{raw_query.replace('secret.txt', 'planted.txt')}",
                    content=b"planted")
    if write.status_code == 200:
        # A name that only looks like an escape is stored inside local_dir, never outside.
        assert not list(outside.parent.glob("planted.txt"))
    outside_untouched(outside)


@pytest.fixture
def links(root, outside):
    (root / "in").mkdir(exist_ok=True)
    (root / "in" / "own.txt").write_bytes(b"own")
    made = {
        "etc": ("/etc", True),
        "passwd": ("/etc/passwd", False),
        "out": (str(outside), True),
        "out_secret": (str(outside / "secret.txt"), False),
        "in/up": ("..", True),
        "relative": ("../outside/secret.txt", False),
    }
    for name, (target, is_dir) in made.items():
        os.symlink(target, root / name, target_is_directory=is_dir)
    yield made
    for name in made:
        (root / name).unlink(missing_ok=True)


def test_a_symlink_that_stays_inside_is_followed(api, links):
    """``in/up`` -> ``..`` leads back to the root of local_dir: followed by the mount table."""
    response = api.get("/files", params={"path": "/local/in/up/in/own.txt"})
    assert response.status_code == 200 and response.content == b"own"


@pytest.mark.parametrize(
    ("method", "endpoint", "path", "kwargs"),
    [
        ("GET", "/files", "/local/etc/passwd", {}),
        ("GET", "/files", "/local/passwd", {}),
        ("GET", "/files", "/local/out/secret.txt", {}),
        ("GET", "/files", "/local/out_secret", {}),
        ("GET", "/files", "/local/relative", {}),
        ("GET", "/directories", "/local/out", {}),
        ("GET", "/directories", "/local/etc", {}),
        ("GET", "/stat", "/local/out/secret.txt", {}),
        ("PUT", "/files", "/local/out/new.txt", {"content": b"planted"}),
        ("PUT", "/files", "/local/out_secret", {"content": b"overwritten"}),
        ("PUT", "/files", "/local/out_secret", {"content": b"x", "params": {"flags": "append"}}),
        ("POST", "/files", "/local/out/new.txt", {}),
        ("POST", "/directories", "/local/out/newdir", {}),
        ("DELETE", "/files", "/local/out/secret.txt", {}),
        ("POST", "/chmod", "/local/out/secret.txt", {"json": {"mode": 0o777}}),
        ("POST", "/chmod", "/local/out_secret", {"json": {"mode": 0o777}}),
        ("POST", "/rename", "/local/out/secret.txt", {"json": {"newPath": "/local/stolen"}}),
    ],
)
def test_symlink_escape_is_refused(api, outside, links, method, endpoint, path, kwargs):
    """Symlinks to /etc, to a file or directory outside, or climbing out are never followed."""
    params = {"path": path, **kwargs.pop("params", {})}
    response = api.request(method, endpoint, params=params, **kwargs)
    assert response.status_code == 403, response.text
    assert "refusing to follow" in response.json()["error"]
    assert SECRET not in response.content and b"root:" not in response.content
    outside_untouched(outside)


def test_symlinks_are_listed_and_removed_not_followed(api, root, outside, links):
    info = api.get("/stat", params={"path": "/local/out"}).json()
    assert info["mode"] & GO_SYMLINK and not info["isDir"]
    assert api.delete("/files", params={"path": "/local/out", "recursive": "true"}
                      ).status_code == 200
    assert not (root / "out").is_symlink()
    assert api.delete("/files", params={"path": "/local/in", "recursive": "true"}
                      ).status_code == 200
    outside_untouched(outside)
    assert Path("/etc/passwd").exists()


def test_symlink_swapped_in_during_requests_is_never_followed(api, root, outside):
    """A directory and a file are swapped with symlinks to the outside while requests run:
    every answer is the inside content or a refusal, and nothing outside is written."""
    (root / "race").mkdir()
    (root / "race" / "file.txt").write_bytes(b"inside")
    (root / "racefile").write_bytes(b"inside")
    os.symlink(outside, root / "race_link")
    os.symlink(outside / "secret.txt", root / "racefile_link")
    stop = threading.Event()

    def swap(name: str) -> None:
        real, link, parked = root / name, root / f"{name}_link", root / f"{name}_parked"
        while not stop.is_set():
            os.rename(real, parked)
            os.rename(link, real)
            os.rename(real, link)
            os.rename(parked, real)

    swappers = [threading.Thread(target=swap, args=(n,)) for n in ("race", "racefile")]
    for thread in swappers:
        thread.start()
    answers: set[tuple[int, bytes]] = set()
    try:
        for index in range(150):
            for path in ("/local/race/file.txt", "/local/racefile"):
                response = api.get("/files", params={"path": path})
                answers.add((response.status_code, response.content if response.status_code
                             == 200 else b""))
                assert SECRET not in response.content
            api.put("/files", params={"path": f"/local/race/new{index}.txt"}, content=b"w")
            api.put("/files", params={"path": "/local/racefile", "flags": "append"},
                    content=b"w")
    finally:
        stop.set()
        for thread in swappers:
            thread.join()
    assert {status for status, _ in answers} <= {200, 400, 403, 404}
    assert {body for status, body in answers if status == 200} <= {b"inside"} | {
        b"inside" + b"w" * n for n in range(151)}
    outside_untouched(outside)
    for name in ("race", "race_link", "racefile", "racefile_link"):
        path = root / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
