"""No single request stalls the server: while one client runs a heavy operation (a listing of tens
of thousands of entries, a delete or rename of a big subtree, a value of tens of megabytes, a
long queue), another client's GET /health keeps being answered quickly.

The bound (HEALTH_BOUND) is generous: on the old code, which ran these operations on the event
loop, the same health checks waited 0.5 to several seconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pfs.testing.server import ServerProcess

#: Slowest health check accepted while a heavy operation runs (seconds).
HEALTH_BOUND = 0.2
MANY = 20_000


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    (root / "local").mkdir()
    config = {
        "plugins": {
            "localfs": {
                "enabled": True,
                "path": "/local",
                "config": {"local_dir": str(root / "local")},
            },
            **{
                name: {
                    "enabled": True,
                    "path": f"/{name}",
                    "config": {"backend": "sqlite", "db_path": str(root / f"{name}.db")},
                }
                for name in ("kvfs", "queuefs", "sqlfs")
            },
        }
    }
    with ServerProcess(config) as server, httpx.Client(base_url=server.api, timeout=120) as api:
        yield root, api


def health_max_during(api: httpx.Client, operation: Callable[[], httpx.Response]) -> float:
    """The slowest GET /health answered while ``operation`` runs (which must succeed)."""
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get("/health").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.002)

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.05)
    try:
        response = operation()
    finally:
        time.sleep(0.02)
        done.set()
        prober.join()
    assert response.status_code < 300, response.text
    return max(latencies)


def assert_responsive(
    api: httpx.Client,
    operation: Callable[[], httpx.Response],
    prepare: Callable[[], object] = lambda: None,
    bound: float = HEALTH_BOUND,
) -> None:
    """GET /health stays under ``bound`` while ``operation`` runs, in one of three attempts
    (``prepare`` runs before each). The machine is shared: a stall of ours shows in every
    attempt, a neighbour's burst in one."""
    worst = []
    for _ in range(3):
        prepare()
        worst.append(health_max_during(api, operation))
        if worst[-1] < bound:
            return
    raise AssertionError(f"GET /health waited {min(worst):.3f} s at best, over {bound} s")


def insert_rows(db: Path, sql: str, rows) -> None:
    conn = sqlite3.connect(db, timeout=30)
    with conn:
        conn.executemany(sql, rows)
    conn.close()


def test_listing_a_big_local_directory(env):
    root, api = env
    folder = root / "local" / "many"
    folder.mkdir()
    for i in range(MANY):
        (folder / f"f{i:05d}").touch()
    assert_responsive(api, lambda: api.get("/directories", params={"path": "/local/many"}))
    listed = api.get("/directories", params={"path": "/local/many"}).json()["files"]
    assert [e["name"] for e in listed] == sorted(f"f{i:05d}" for i in range(MANY))


def test_kvfs_listing_and_clearing_many_keys(env):
    root, api = env

    def fill() -> None:
        insert_rows(
            root / "kvfs.db",
            "INSERT OR REPLACE INTO kvfs_entries (namespace, k, v) VALUES ('default', ?, ?)",
            ((f"k{i:06d}", b"v" * 10) for i in range(3 * MANY)),
        )

    fill()
    assert_responsive(api, lambda: api.get("/directories", params={"path": "/kvfs/keys"}))
    clear = {"path": "/kvfs/keys", "recursive": "true"}
    assert_responsive(api, lambda: api.delete("/directories", params=clear), prepare=fill)
    assert api.get("/directories", params={"path": "/kvfs/keys"}).json()["files"] is None


def test_kvfs_large_values(env):
    _, api = env
    value = b"v" * (30 << 20)
    path = {"path": "/kvfs/keys/big"}

    def put() -> httpx.Response:
        return api.put("/files", params=path, content=value)

    assert_responsive(api, put, bound=0.5)
    appended = {**path, "offset": "0", "flags": "append"}
    assert_responsive(api, lambda: api.put("/files", params=appended, content=b"tail"), prepare=put)
    assert api.get("/stat", params=path).json()["size"] == len(value) + 4
    assert_responsive(api, lambda: api.get("/files", params=path))
    assert api.get("/files", params={**path, "offset": str(len(value))}).content == b"tail"
    assert_responsive(api, lambda: api.delete("/files", params=path), prepare=put)


def test_queuefs_clearing_a_long_queue(env):
    root, api = env
    assert api.post("/directories", params={"path": "/queuefs/long"}).status_code == 201
    size = {"path": "/queuefs/long/size"}

    def fill() -> None:
        insert_rows(
            root / "queuefs.db",
            "INSERT INTO queuefs_messages (queue_name, data, enqueued_ns) VALUES ('long', ?, 1)",
            ((b"m" * 100,) for _ in range(10 * MANY)),
        )
        # The backend keeps each queue's count with its messages (size reads it, no scan).
        insert_rows(
            root / "queuefs.db",
            "INSERT INTO queuefs_counts (queue_name, n) VALUES ('long', ?) "
            "ON CONFLICT(queue_name) DO UPDATE SET n = n + excluded.n",
            [(10 * MANY,)],
        )

    fill()
    assert api.get("/files", params=size).text == str(10 * MANY)
    clear = {"path": "/queuefs/long/clear"}

    def refill() -> None:
        if api.get("/files", params=size).text == "0":
            fill()

    assert_responsive(api, lambda: api.put("/files", params=clear, content=b"x"), prepare=refill)
    assert api.get("/files", params=size).text == "0"


def test_sqlfs_big_subtree_and_big_file(env):
    root, api = env
    assert api.post("/directories", params={"path": "/sqlfs/tree"}).status_code == 201
    insert_rows(
        root / "sqlfs.db",
        "INSERT INTO files (path, is_dir, mode, size, mod_time, data) VALUES (?, 0, 420, 1, 0, ?)",
        ((f"/tree/f{i:06d}", b"y") for i in range(3 * MANY)),
    )
    tree, moved = {"path": "/sqlfs/tree"}, {"path": "/sqlfs/moved"}

    def move_back() -> None:  # a retry starts from the tree where it was
        if api.get("/stat", params=moved).status_code == 200:
            api.post("/rename", params=moved, json={"newPath": "/sqlfs/tree"})

    assert_responsive(
        api,
        lambda: api.post("/rename", params=tree, json={"newPath": "/sqlfs/moved"}),
        prepare=move_back,
    )

    def move_there() -> None:
        if api.get("/stat", params=moved).status_code != 200:
            api.post("/directories", params=moved)
            insert_rows(
                root / "sqlfs.db",
                "INSERT OR REPLACE INTO files (path, is_dir, mode, size, mod_time, data)"
                " VALUES (?, 0, 420, 1, 0, ?)",
                ((f"/moved/f{i:06d}", b"y") for i in range(3 * MANY)),
            )

    gone = {**moved, "recursive": "true"}
    assert_responsive(api, lambda: api.delete("/directories", params=gone), prepare=move_there)
    assert api.get("/stat", params={"path": "/sqlfs/moved/f000001"}).status_code == 404

    big = {"path": "/sqlfs/big"}

    def put_big() -> httpx.Response:
        return api.put("/files", params=big, content=b"z" * (50 << 20))

    assert_responsive(api, put_big, bound=0.5)
    assert_responsive(api, lambda: api.delete("/files", params=big), prepare=put_big)


def test_server_side_copies_of_a_big_memfs_file_and_of_many_files(env):
    """memfs answers without ever suspending: the copy itself gives up the loop (per 4 MiB and
    per file)."""
    root, api = env
    answer = api.post(
        "/mount", json={"fstype": "memfs", "path": "/mem", "config": {"max_file_size": 1 << 30}}
    )
    assert answer.status_code == 200, answer.text
    assert api.put("/files", params={"path": "/mem/big"}, content=bytes(256 << 20)).is_success
    assert_responsive(
        api, lambda: api.post("/copy", json={"path": "/mem/big", "newPath": "/mem/big2"})
    )
    tree = root / "local" / "tree"
    tree.mkdir()
    for i in range(MANY // 4):
        (tree / f"f{i:05d}").write_bytes(b"x")
    copied = api.post("/copy", json={"path": "/local/tree", "newPath": "/mem/tree",
                                     "recursive": True})
    assert copied.json()["files"] == MANY // 4
    counter = iter(range(100))
    assert_responsive(
        api,
        lambda: api.post("/copy", json={"path": "/mem/tree", "newPath": f"/mem/t{next(counter)}",
                                        "recursive": True}),
    )
