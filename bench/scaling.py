"""Cost that grows with the data: each operation at 100, 10,000 and 1,000,000 items.

memfs and sqlfs (SQLite) hold N files in one directory; queuefs (memory, sqlite, mysql) holds N
messages in one queue. Each store is filled in steps (100, then up to 10,000, then 1,000,000)
and measured after each step through the server's app in this process (ASGI calls: no socket
and no HTTP client, so what is timed is the server's own work). memfs is filled through the
mount table, the SQL stores by bulk inserts of rows shaped like one the plugin wrote itself (and
the queue counters kept with them). Times are medians of sequential requests; listing is per entry.
The clock is this process's CPU time (every thread: SQLite's workers too), steadier than wall
time on a shared machine, except for mysql, whose work is in another process: wall time there.

Nothing but listing may grow with N (listing linearly).
Run: .venv/bin/python bench/scaling.py [--sizes 100,10000,1000000] [--stores memfs,sqlfs,memory,...]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from pfs.testing.inprocess import running_app  # noqa: E402
from pfs.testing.mariadb import MariaDB  # noqa: E402

MARIADB = MariaDB()
#: Sequential requests timed per operation (listing: see ``_list_reps``).
REPS = 50
#: Rows per bulk insert.
CHUNK = 50_000

Results = dict[tuple[str, str], dict[int, float]]
STORES = ("memfs", "sqlfs", "memory", "sqlite", "mysql")


def _list_reps(n: int) -> int:
    return 20 if n <= 10_000 else 2


#: What ``_timed`` measures with (see the module docstring).
clock = time.process_time


async def _timed(reps: int, call: Callable[[], Awaitable[_Answer]]) -> float:
    """Median µs of ``reps`` sequential calls (each must answer 200)."""
    times = []
    for _ in range(reps):
        start = clock()
        r = await call()
        times.append(clock() - start)
        assert r.status_code == 200, r.text
    return statistics.median(times) * 1e6


# -- files ------------------------------------------------------------------------------------


def _name(i: int) -> str:
    return f"f{i:07d}"


async def _files(api: _Client, mount: str, n: int, out: dict[str, float]) -> None:
    directory = f"{mount}/d"
    target = f"{directory}/{_name(n // 2)}"
    reps = _list_reps(n)
    listing = await _timed(reps, lambda: api.get("/directories", params={"path": directory}))
    listed = len((await api.get("/directories", params={"path": directory})).json()["files"])
    assert listed == n, (listed, n)
    out["list (per entry)"] = listing / n
    out["stat"] = await _timed(REPS, lambda: api.get("/stat", params={"path": target}))
    out["read 1 byte"] = await _timed(REPS, lambda: api.get("/files", params={"path": target}))


async def memfs(sizes: list[int], results: Results) -> None:
    config = {"server": {"access_log": False}, "plugins": {"memfs": {"enabled": True,
                                                                    "path": "/memfs"}}}
    async with running_app(config) as app, _client(app) as api:
        await app.state.fs.mkdir("/memfs/d", 0o755)
        made = 0
        for n in sizes:
            for i in range(made, n):
                await app.state.fs.write(f"/memfs/d/{_name(i)}", b"x")
            made = n
            await _record(results, "memfs", n, lambda out, n=n: _files(api, "/memfs", n, out))


async def sqlfs(sizes: list[int], results: Results, tmp: Path) -> None:
    db_path = tmp / "sqlfs.db"
    config = {"server": {"access_log": False}, "plugins": {"sqlfs": {
        "enabled": True, "path": "/sqlfs",
        "config": {"backend": "sqlite", "db_path": str(db_path), "cache_enabled": False}}}}
    async with running_app(config) as app, _client(app) as api:
        r = await api.post("/directories", params={"path": "/sqlfs/d"})
        assert r.status_code in (200, 201), r.text
        r = await api.put("/files", params={"path": f"/sqlfs/d/{_name(0)}"}, content=b"x")
        assert r.status_code == 200, r.text
        conn = sqlite3.connect(db_path)
        cursor = conn.execute("SELECT * FROM files WHERE path LIKE ?", (f"%{_name(0)}",))
        template = cursor.fetchone()
        columns = [d[0] for d in cursor.description]
        at = columns.index("path")
        insert = (f"INSERT INTO files ({', '.join(columns)}) "
                  f"VALUES ({', '.join('?' * len(columns))})")
        made = 1
        for n in sizes:
            while made < n:
                upto = min(n, made + CHUNK)
                rows = [(*template[:at], template[at].replace(_name(0), _name(i)),
                         *template[at + 1:]) for i in range(made, upto)]
                with conn:
                    conn.executemany(insert, rows)
                made = upto
            await _record(results, "sqlfs sqlite", n,
                          lambda out, n=n: _files(api, "/sqlfs", n, out))
        conn.close()


# -- queues -----------------------------------------------------------------------------------


async def _queue(api: _Client, n: int, out: dict[str, float]) -> None:
    base = "/queuefs/q"
    out["size"] = await _timed(REPS, lambda: api.get("/files", params={"path": f"{base}/size"}))
    size = int((await api.get("/files", params={"path": f"{base}/size"})).text)
    assert size == n, (size, n)
    out["peek stat"] = await _timed(REPS, lambda: api.get("/stat", params={"path": f"{base}/peek"}))
    out["enqueue"] = await _timed(
        REPS, lambda: api.put("/files", params={"path": f"{base}/enqueue"}, content=b"m")
    )
    # As many out as went in: the queue is back at n messages for the next step.
    out["dequeue"] = await _timed(
        REPS, lambda: api.get("/files", params={"path": f"{base}/dequeue"})
    )


async def queuefs(backend: str, sizes: list[int], results: Results, tmp: Path) -> None:
    global clock
    clock = time.perf_counter if backend == "mysql" else time.process_time
    if backend == "mysql":
        database = f"pfs_scaling_{int(time.time())}"
        queue_config: dict[str, Any] = {"backend": "mysql", **MARIADB.config(database)}
        fill = _fill_mysql(database)
    elif backend == "sqlite":
        queue_config = {"backend": "sqlite", "db_path": str(tmp / "queue.db")}
        fill = _fill_sqlite(tmp / "queue.db")
    else:
        queue_config = {"backend": "memory"}
        fill = None
    config = {"server": {"access_log": False}, "plugins": {"queuefs": {
        "enabled": True, "path": "/queuefs", "config": queue_config}}}
    try:
        async with running_app(config) as app, _client(app) as api:
            r = await api.put("/files", params={"path": "/queuefs/q/enqueue"}, content=b"m")
            assert r.status_code == 200, r.text
            made = 1
            for n in sizes:
                if fill is None:
                    for _ in range(made, n):
                        await app.state.fs.write("/queuefs/q/enqueue", b"m")
                else:
                    await asyncio.to_thread(fill, made, n)
                made = n
                await _record(results, f"queuefs {backend}", n,
                              lambda out, n=n: _queue(api, n, out))
    finally:
        if backend == "mysql":
            await asyncio.to_thread(MARIADB.run, f"DROP DATABASE IF EXISTS `{database}`")


def _fill_sqlite(path: Path) -> Callable[[int, int], None]:
    def fill(made: int, n: int) -> None:
        with sqlite3.connect(path) as conn:
            now = time.time_ns()
            conn.executemany(
                "INSERT INTO queuefs_messages (queue_name, data, enqueued_ns) VALUES ('q', ?, ?)",
                ((b"m", now) for _ in range(made, n)),
            )
            conn.execute("UPDATE queuefs_counts SET n = n + ? WHERE queue_name = 'q'", (n - made,))

    return fill


def _fill_mysql(database: str) -> Callable[[int, int], None]:
    def fill(made: int, n: int) -> None:
        now = time.time_ns()
        while made < n:
            step = min(CHUNK, n - made)
            MARIADB.run(
                f"INSERT INTO `{database}`.queuefs_messages (queue_name, data, enqueued_ns) "
                f"SELECT 'q', 'm', {now} FROM mysql.seq_1_to_{step}"
            )
            MARIADB.run(
                f"INSERT INTO `{database}`.queuefs_counts (queue_name, slot, n) "
                f"VALUES ('q', 0, {step}) ON DUPLICATE KEY UPDATE n = n + {step}"
            )
            made += step

    return fill


# -- the table --------------------------------------------------------------------------------


class _Answer:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.text = content.decode()

    def json(self) -> Any:
        return orjson.loads(self.content)


class _Client:
    """Requests straight into the ASGI app (an httpx client would cost ~100 µs of its own per
    request, hiding what the server does)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __aenter__(self) -> _Client:
        while self.app.state.mounting.counts()["pending"]:  # config mounts start meanwhile
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def request(self, method: str, route: str, path: str, body: bytes = b"") -> _Answer:
        scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http",
                 "path": f"/api/v1{route}", "raw_path": f"/api/v1{route}".encode(),
                 "query_string": urlencode({"path": path}).encode(), "root_path": "",
                 "headers": [(b"host", b"pfs"), (b"content-length", b"%d" % len(body))],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        parts: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                parts.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return _Answer(status, b"".join(parts))

    def get(self, route: str, params: dict[str, str]) -> Awaitable[_Answer]:
        return self.request("GET", route, params["path"])

    def put(self, route: str, params: dict[str, str], content: bytes) -> Awaitable[_Answer]:
        return self.request("PUT", route, params["path"], content)

    def post(self, route: str, params: dict[str, str]) -> Awaitable[_Answer]:
        return self.request("POST", route, params["path"])


def _client(app: Any) -> _Client:
    return _Client(app)


async def _record(results: Results, store: str, n: int,
                  measure: Callable[[dict[str, float]], Awaitable[None]]) -> None:
    out: dict[str, float] = {}
    await measure(out)
    for op, us in out.items():
        results.setdefault((store, op), {})[n] = us
    print(f"  {store} at {n:,}: " + ", ".join(f"{op} {us:,.1f} µs" for op, us in out.items()),
          flush=True)


def growth(row: dict[int, float], sizes: list[int]) -> str:
    return f"{row[sizes[-1]] / row[sizes[0]]:.2f}x"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,10000,1000000")
    parser.add_argument("--stores", default=",".join(STORES),
                        help="memfs, sqlfs and the queuefs backends memory, sqlite, mysql")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    stores = args.stores.split(",")
    results: Results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "memfs" in stores:
            await memfs(sizes, results)
        if "sqlfs" in stores:
            await sqlfs(sizes, results, Path(tmp))
        for backend in ("memory", "sqlite", "mysql"):
            if backend in stores:
                await queuefs(backend, sizes, results, Path(tmp))
    rows = [[store, op, *(f"{row[n]:,.2f}" for n in sizes), growth(row, sizes)]
            for (store, op), row in results.items()]
    print_table("Time per operation (µs; median of sequential in-process requests; CPU time, "
                "mysql: wall time) by items held",
                ["store", "operation", *(f"{n:,}" for n in sizes), "last/first"], rows)


if __name__ == "__main__":
    asyncio.run(main())
