"""asyncpg against psycopg 3 (async) on the statements the postgres back ends run, in one run:
queue enqueue (INSERT … RETURNING), dequeue (DELETE of the first row ``FOR UPDATE SKIP LOCKED``)
and a kv get (SELECT by primary key), each from 16 concurrent tasks over a pool of 8.

The machine is shared, so the drivers take turns (operation by operation, the order swapped
every round) and each cell is the median of the rounds; besides ops/s it shows this process's
CPU time per operation, the driver's own cost, which the database's speed does not blur.

Run: .venv/bin/python bench/pg_drivers.py [--ops N] [--rounds N] [--dsn postgresql://…]
The tables live in a throw-away schema, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

TASKS = 16
POOL = 8
OPS = ("enqueue", "dequeue", "kv get")
One = Callable[[int], Awaitable[None]]


def _statements(schema: str, mark: Callable[[int], str]) -> dict[str, str]:
    """The three statements with the driver's placeholder ``mark(n)``."""
    return {
        "enqueue": f"INSERT INTO {schema}.q (queue_name, data) VALUES ({mark(1)}, {mark(2)}) "
        "RETURNING id",
        "dequeue": f"DELETE FROM {schema}.q WHERE id = (SELECT id FROM {schema}.q "
        f"WHERE queue_name = {mark(1)} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, data",
        "kv get": f"SELECT v FROM {schema}.kv WHERE k = {mark(1)}",
    }


async def _timed(ops: int, one: One) -> tuple[float, float, float]:
    """(ops/s, p99 ms, CPU µs per op) of ``ops`` calls of ``one(i)`` over TASKS tasks."""
    latencies: list[float] = []

    async def worker(start: int) -> None:
        for i in range(start, ops, TASKS):
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n) for n in range(TASKS)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return ops / elapsed, statistics.quantiles(latencies, n=100)[98] * 1000, cpu / ops * 1e6


async def asyncpg_ops(dsn: str, schema: str) -> tuple[dict[str, One], Callable]:
    import asyncpg

    sql = _statements(schema, lambda n: f"${n}")
    pool = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)

    async def enqueue(i: int) -> None:
        async with pool.acquire() as conn:
            await conn.fetchval(sql["enqueue"], "a", b"x" * 256)

    async def dequeue(i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(sql["dequeue"], "a")

    async def get(i: int) -> None:
        async with pool.acquire() as conn:
            await conn.fetchval(sql["kv get"], f"k{i % 100}")

    return {"enqueue": enqueue, "dequeue": dequeue, "kv get": get}, pool.close


async def psycopg_ops(dsn: str, schema: str) -> tuple[dict[str, One], Callable]:
    from psycopg_pool import AsyncConnectionPool

    sql = _statements(schema, lambda n: "%s")
    pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)

    async def enqueue(i: int) -> None:
        async with pool.connection() as conn:
            await (await conn.execute(sql["enqueue"], ("a", b"x" * 256))).fetchone()

    async def dequeue(i: int) -> None:
        async with pool.connection() as conn, conn.transaction():
            await (await conn.execute(sql["dequeue"], ("a",))).fetchone()

    async def get(i: int) -> None:
        async with pool.connection() as conn:
            await (await conn.execute(sql["kv get"], (f"k{i % 100}",))).fetchone()

    return {"enqueue": enqueue, "dequeue": dequeue, "kv get": get}, pool.close


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.dsn)
    closers = []
    try:
        await admin.execute(
            f"CREATE SCHEMA {schema}; "
            f"CREATE TABLE {schema}.q (id BIGSERIAL PRIMARY KEY, queue_name TEXT, data BYTEA); "
            f"CREATE INDEX ON {schema}.q (queue_name, id); "
            f"CREATE TABLE {schema}.kv (k TEXT PRIMARY KEY, v BYTEA)"
        )
        await admin.executemany(f"INSERT INTO {schema}.kv VALUES ($1, $2)",
                                [(f"k{i}", b"v" * 100) for i in range(100)])
        drivers = {}
        for name, make in (("asyncpg", asyncpg_ops), ("psycopg 3", psycopg_ops)):
            drivers[name], close = await make(args.dsn, schema)
            closers.append(close)
        samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for round_ in range(args.rounds):
            for op in OPS:
                order = list(drivers) if round_ % 2 == 0 else list(reversed(drivers))
                for name in order:
                    samples.setdefault((name, op), []).append(
                        await _timed(args.ops, drivers[name][op]))
    finally:
        for close in closers:
            await close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()

    def median(name: str, op: str, field: int) -> float:
        return statistics.median(sample[field] for sample in samples[(name, op)])

    rows = []
    for op in OPS:
        cells = [f"{median(d, op, 0):,.0f}/s p99 {median(d, op, 1):.1f} ms, "
                 f"{median(d, op, 2):.0f} µs CPU" for d in drivers]
        rows.append([op, *cells,
                     f"{median('asyncpg', op, 0) / median('psycopg 3', op, 0):.2f}x / "
                     f"{median('asyncpg', op, 2) / median('psycopg 3', op, 2):.2f}x"])
    print_table(f"PostgreSQL drivers: {args.ops} ops × {args.rounds} rounds (median), "
                f"{TASKS} tasks, pool {POOL}",
                ["operation", *drivers, "asyncpg/psycopg rate / CPU"], rows)


if __name__ == "__main__":
    asyncio.run(main())
