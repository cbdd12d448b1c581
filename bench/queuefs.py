"""queuefs throughput: enqueue+dequeue pairs per backend, against memfs 1 KiB reads (the anchor)
measured on the same server in the same run.

Each wrk connection alternates PUT enqueue / GET dequeue on one queue; delivered messages are
counted from the queue itself (enqueued − left over), so empty dequeues do not count.
Run: .venv/bin/python bench/queuefs.py [--seconds N] [--skip-mysql] [--skip-postgres]
[--skip-redis] [--skip-nats]
(not bench/queue.py: a script of that name shadows the stdlib ``queue`` module)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ensure_wrk, print_table  # noqa: E402

from pfs.testing.engines import ENGINES  # noqa: E402
from pfs.testing.mariadb import MariaDB  # noqa: E402
from pfs.testing.postgres import Postgres  # noqa: E402
from pfs.testing.server import ServerProcess  # noqa: E402

PAYLOAD = 256
TARGETS = {"memory": "≥50% of memfs read rps", "sqlite": "≥2,000 msg/s",
           "mysql": "≥1,000 msg/s", "postgres": "≥50% of the direct client's msg/s",
           "redis": "≥50% of the direct client's msg/s",
           "nats": "≥50% of the direct client's msg/s"}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, connections: int, seconds: int, script: str | None = None) -> dict:
    args = [ensure_wrk(), f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s",
            "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error responses:\n{out}")
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
    }


def pair_script(queue: str) -> str:
    fd, path = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(f"""
local n = 0
local body = string.rep("q", {PAYLOAD})
request = function()
  n = n + 1
  if n % 2 == 1 then
    return wrk.format("PUT", "/api/v1/files?path=/queuefs/{queue}/enqueue", nil, body)
  end
  return wrk.format("GET", "/api/v1/files?path=/queuefs/{queue}/dequeue")
end
""")
    return path


def queue_run(servers: list[ServerProcess], connections_each: int, seconds: int) -> dict:
    """Run the enqueue/dequeue mix on every server at once; msgs/s delivered, latencies."""
    queue = "bench" + uuid.uuid4().hex[:6]
    script = pair_script(queue)
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = list(pool.map(
            lambda s: run_wrk(s.url, connections_each, seconds, script), servers))
    os.unlink(script)
    with httpx.Client(base_url=servers[0].api, timeout=60) as client:
        left = int(client.get("/files", params={"path": f"/queuefs/{queue}/size"}).text)
    enqueued = sum((r["requests"] + 1) // 2 for r in runs)
    return {
        "msgs": (enqueued - left) / seconds,
        "rps": sum(r["rps"] for r in runs),
        "p50": max(r["p50"] for r in runs),
        "p99": max(r["p99"] for r in runs),
    }


def split_run(servers: list[ServerProcess], producers_each: int, consumers_each: int,
              seconds: int) -> dict:
    """Separate producer and consumer connections on every server; delivered msgs/s and the
    consumers' latencies."""
    queue = "bench" + uuid.uuid4().hex[:6]
    fd, put = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(f'wrk.method = "PUT"\nwrk.body = string.rep("q", {PAYLOAD})\n')
    jobs = []
    with ThreadPoolExecutor(2 * len(servers)) as pool:
        for s in servers:
            jobs.append(("p", pool.submit(run_wrk, f"{s.api}/files?path=/queuefs/{queue}/enqueue",
                                          producers_each, seconds, put)))
            jobs.append(("c", pool.submit(run_wrk, f"{s.api}/files?path=/queuefs/{queue}/dequeue",
                                          consumers_each, seconds)))
        runs = [(kind, job.result()) for kind, job in jobs]
    os.unlink(put)
    with httpx.Client(base_url=servers[0].api, timeout=60) as client:
        left = int(client.get("/files", params={"path": f"/queuefs/{queue}/size"}).text)
    enqueued = sum(r["requests"] for kind, r in runs if kind == "p")
    consumers = [r for kind, r in runs if kind == "c"]
    return {
        "msgs": (enqueued - left) / seconds,
        "p50": max(r["p50"] for r in consumers),
        "p99": max(r["p99"] for r in consumers),
    }


def mariadb_ceiling(db: MariaDB, database: str, workers: int, seconds: int) -> float:
    """msg/s of the same SQL as the mysql backend, straight from asyncmy (no HTTP, no pfs):
    autocommitted INSERT, then SELECT … FOR UPDATE SKIP LOCKED + DELETE + COMMIT."""
    import asyncmy

    async def run() -> float:
        args = {"host": db.host, "port": db.port, "user": db.user, "password": db.password,
                "db": database}
        setup = await asyncmy.connect(autocommit=True, **args)
        async with setup.cursor() as cur:
            await cur.execute("CREATE TABLE ceiling (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                              "q VARCHAR(255), data LONGBLOB, KEY (q, id))")
        setup.close()
        done = 0

        async def worker() -> None:
            nonlocal done
            ins = await asyncmy.connect(autocommit=True, **args)
            tx = await asyncmy.connect(autocommit=False, **args)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with ins.cursor() as cur:
                    await cur.execute("INSERT INTO ceiling (q, data) VALUES ('q', %s)",
                                      (b"q" * PAYLOAD,))
                async with tx.cursor() as cur:
                    await cur.execute("SELECT id, data FROM ceiling WHERE q = 'q' ORDER BY id "
                                      "LIMIT 1 FOR UPDATE SKIP LOCKED")
                    row = await cur.fetchone()
                    if row:
                        await cur.execute("DELETE FROM ceiling WHERE id = %s", (row[0],))
                await tx.commit()
                done += 1 if row else 0
            ins.close()
            tx.close()

        await asyncio.gather(*(worker() for _ in range(workers)))
        return done / seconds

    return asyncio.run(run())


def postgres_ceiling(db: Postgres, database: str, workers: int, seconds: int) -> float:
    """msg/s of the postgres backend's statements straight from asyncpg (no HTTP, no pfs), one
    message per transaction: INSERT + counter + NOTIFY, then DELETE of the row a SELECT … FOR
    UPDATE SKIP LOCKED picked + counter."""
    import asyncpg

    from pfs.plugins.queuefs import postgres as backend

    async def run() -> float:
        args = {"host": db.host, "port": db.port, "user": db.user,
                "password": db.password or None, "database": database}
        setup = await asyncpg.connect(**args)
        await setup.execute(backend._SCHEMA)  # the backend's own tables
        await setup.close()
        done = 0

        async def worker() -> None:
            nonlocal done
            conn = await asyncpg.connect(**args)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with conn.transaction():
                    await conn.fetch(backend._INSERT_MESSAGES, ["q"], [b"q" * PAYLOAD],
                                     [time.time_ns()])
                    await conn.execute(backend._COUNT, "q", backend._slot(), 1)
                    await conn.execute("SELECT pg_notify($1, $2)", backend.CHANNEL, "q")
                async with conn.transaction():
                    rows = await conn.fetch(backend._DELETE_TAKEN, "q", time.time_ns(), 1)
                    if rows:
                        await conn.execute(backend._COUNT, "q", backend._slot(), -1)
                done += len(rows)
            await conn.close()

        await asyncio.gather(*(worker() for _ in range(workers)))
        return done / seconds

    return asyncio.run(run())


def engine_ceiling(engine: str, prefix: str, workers: int, seconds: int) -> float:
    """msg/s of the redis or nats backend driven in-process (its own client and scripts, no
    HTTP, no server): ``workers`` tasks each enqueue then dequeue one message at a time."""
    from pfs.plugins.queuefs.layout import ENGINES as BUILD

    async def run() -> float:
        queue_config = {**ENGINES[engine].config(prefix), "max_deliveries": 0}
        backend = BUILD[engine](queue_config)
        await backend.start()
        done = 0

        async def worker() -> None:
            nonlocal done
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await backend.enqueue("ceiling", b"q" * PAYLOAD)
                if await backend.dequeue("ceiling", 0) is not None:
                    done += 1

        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            await backend.close()
        return done / seconds

    return asyncio.run(run())


def engine_rows(engine: str, seconds: int) -> list[list[str]]:
    """Two servers on one redis/nats prefix (mixed and split loads) next to the ceiling."""
    server = ENGINES[engine]
    rows = []
    with server.scratch_prefix() as prefix:
        queue_config = server.config(prefix)
        with ServerProcess(config(queue_config)) as one, ServerProcess(config(queue_config)) as two:
            mixed = queue_run([one, two], 4, seconds)
            split = split_run([one, two], 8, 4, seconds)
    with server.scratch_prefix() as prefix:
        ceiling = engine_ceiling(engine, prefix, 8, seconds)
    rows.append([f"{engine} direct, same work (ceiling)",
                 "the backend in-process, 8 tasks, no HTTP", f"{ceiling:,.0f} msg/s", "", "", ""])
    for setup, result in (("2 servers, 4 conns each", mixed),
                          ("2 servers, 4 consumers + 8 producers each", split)):
        ratio = result["msgs"] / ceiling
        rows.append([f"queuefs {engine}", setup, f"{result['msgs']:,.0f} msg/s",
                     f"{result['p50']:.2f}", f"{result['p99']:.2f}",
                     f"{ratio:.0%} of ceiling; {TARGETS[engine]} "
                     f"{'ok' if ratio >= 0.5 else 'MISSED'}"])
    return rows


def config(queue_config: dict) -> dict:
    return {"plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queuefs", "config": queue_config},
    }}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-mysql", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--skip-nats", action="store_true")
    args = parser.parse_args()
    rows = []
    with ServerProcess(config({"backend": "memory"})) as srv:
        httpx.put(f"{srv.api}/files", params={"path": "/memfs/1k"}, content=b"r" * 1024)
        anchor = run_wrk(f"{srv.api}/files?path=/memfs/1k", args.connections, args.seconds)
        rows.append(["memfs read 1 KiB (anchor)", "1 server", f"{anchor['rps']:,.0f} req/s",
                     f"{anchor['p50']:.2f}", f"{anchor['p99']:.2f}", ""])
        memory = queue_run([srv], args.connections, args.seconds)
    ratio = memory["rps"] / anchor["rps"]
    rows.append(["queuefs memory", f"1 server, {args.connections} conns",
                 f"{memory['msgs']:,.0f} msg/s ({memory['rps']:,.0f} req/s)",
                 f"{memory['p50']:.2f}", f"{memory['p99']:.2f}",
                 f"{ratio:.0%} of anchor req/s; {TARGETS['memory']} "
                 f"{'ok' if ratio >= 0.5 else 'MISSED'}"])
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_config = {"backend": "sqlite", "db_path": f"{tmp}/queue.db"}
        with ServerProcess(config(sqlite_config)) as srv:
            result = queue_run([srv], args.connections, args.seconds)
        rows.append(["queuefs sqlite (synchronous=FULL)", f"1 server, {args.connections} conns",
                     f"{result['msgs']:,.0f} msg/s", f"{result['p50']:.2f}",
                     f"{result['p99']:.2f}",
                     f"{TARGETS['sqlite']} {'ok' if result['msgs'] >= 2000 else 'MISSED'}"])
    if not args.skip_mysql:
        db = MariaDB()
        with db.scratch_database("pfs_bench_queue") as database:
            mysql_config = {"backend": "mysql", **db.config(database)}
            with ServerProcess(config(mysql_config)) as one, \
                    ServerProcess(config(mysql_config)) as two:
                mixed = queue_run([one, two], 4, args.seconds)
                split = split_run([one, two], 8, 4, args.seconds)
            ceiling = mariadb_ceiling(db, database, 8, args.seconds)
        rows.append(["MariaDB direct, same SQL (anchor)", "asyncmy, 8 workers, no HTTP",
                     f"{ceiling:,.0f} msg/s", "", "", ""])
        rows.append(["queuefs mysql (MariaDB)", "2 servers, 4 conns each",
                     f"{mixed['msgs']:,.0f} msg/s", f"{mixed['p50']:.2f}",
                     f"{mixed['p99']:.2f}",
                     f"{TARGETS['mysql']} {'ok' if mixed['msgs'] >= 1000 else 'MISSED'}"])
        rows.append(["queuefs mysql (MariaDB)",
                     "2 servers, 4 consumers + 8 producers each",
                     f"{split['msgs']:,.0f} msg/s delivered", f"{split['p50']:.2f}",
                     f"{split['p99']:.2f}",
                     f"{TARGETS['mysql']} {'ok' if split['msgs'] >= 1000 else 'MISSED'}"])
    if not args.skip_postgres:
        pg = Postgres()
        with pg.scratch_database("pfs_bench_queue") as database:
            with ServerProcess(config(pg.config(database))) as one, \
                    ServerProcess(config(pg.config(database))) as two:
                mixed = queue_run([one, two], 4, args.seconds)
                split = split_run([one, two], 8, 4, args.seconds)
        with pg.scratch_database("pfs_bench_ceiling") as database:
            pg.run(f'CREATE DATABASE "{database}"')
            ceiling = postgres_ceiling(pg, database, 8, args.seconds)
        rows.append(["PostgreSQL direct, same SQL (ceiling)", "asyncpg, 8 workers, no HTTP",
                     f"{ceiling:,.0f} msg/s", "", "", ""])
        for setup, result in (("2 servers, 4 conns each", mixed),
                              ("2 servers, 4 consumers + 8 producers each", split)):
            ratio = result["msgs"] / ceiling
            rows.append(["queuefs postgres", setup, f"{result['msgs']:,.0f} msg/s",
                         f"{result['p50']:.2f}", f"{result['p99']:.2f}",
                         f"{ratio:.0%} of ceiling; {TARGETS['postgres']} "
                         f"{'ok' if ratio >= 0.5 else 'MISSED'}"])
    for engine in ("redis", "nats"):
        if not getattr(args, f"skip_{engine}"):
            rows += engine_rows(engine, args.seconds)
    print_table(
        f"queuefs enqueue+dequeue ({PAYLOAD} B messages, wrk; a msg = one enqueue + one dequeue)",
        ["case", "setup", "throughput", "p50 ms", "p99 ms", "target"], rows,
    )


if __name__ == "__main__":
    main()
