"""asyncpg against psycopg 3 (async) on the statements the postgres back ends run, in one run:
queue enqueue (INSERT … RETURNING), dequeue (DELETE of the first row ``FOR UPDATE SKIP LOCKED``)
and a kv get (SELECT by primary key), each from 16 concurrent tasks over a pool of 8.

Run: .venv/bin/python bench/pg_drivers.py [--ops N] [--dsn postgresql://postgres@127.0.0.1/test]
The tables live in a throw-away schema, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

TASKS = 16
POOL = 8


def _statements(schema: str, mark) -> dict[str, str]:
    """The three statements with the driver's placeholder ``mark(n)``."""
    return {
        "enqueue": f"INSERT INTO {schema}.q (queue_name, data) VALUES ({mark(1)}, {mark(2)}) "
        "RETURNING id",
        "dequeue": f"DELETE FROM {schema}.q WHERE id = (SELECT id FROM {schema}.q "
        f"WHERE queue_name = {mark(1)} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, data",
        "kv get": f"SELECT v FROM {schema}.kv WHERE k = {mark(1)}",
    }


async def _timed(ops: int, one) -> tuple[float, float]:
    """(ops/s, p99 ms) of ``ops`` calls of ``one(i)`` spread over TASKS tasks."""
    latencies: list[float] = []

    async def worker(start: int) -> None:
        for i in range(start, ops, TASKS):
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(TASKS)))
    elapsed = time.perf_counter() - t0
    return ops / elapsed, statistics.quantiles(latencies, n=100)[98] * 1000


async def bench_asyncpg(dsn: str, schema: str, ops: int) -> dict[str, tuple[float, float]]:
    import asyncpg

    sql = _statements(schema, lambda n: f"${n}")
    pool = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)
    try:
        async def enqueue(i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval(sql["enqueue"], "a", b"x" * 256)

        async def dequeue(i: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchrow(sql["dequeue"], "a")

        async def get(i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval(sql["kv get"], f"k{i % 100}")

        return {"enqueue": await _timed(ops, enqueue), "dequeue": await _timed(ops, dequeue),
                "kv get": await _timed(ops, get)}
    finally:
        await pool.close()


async def bench_psycopg(dsn: str, schema: str, ops: int) -> dict[str, tuple[float, float]]:
    from psycopg_pool import AsyncConnectionPool

    sql = _statements(schema, lambda n: "%s")
    pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0})
    await pool.open(wait=True)
    try:
        async def enqueue(i: int) -> None:
            async with pool.connection() as conn:
                await (await conn.execute(sql["enqueue"], ("a", b"x" * 256))).fetchone()

        async def dequeue(i: int) -> None:
            async with pool.connection() as conn, conn.transaction():
                await (await conn.execute(sql["dequeue"], ("a",))).fetchone()

        async def get(i: int) -> None:
            async with pool.connection() as conn:
                await (await conn.execute(sql["kv get"], (f"k{i % 100}",))).fetchone()

        return {"enqueue": await _timed(ops, enqueue), "dequeue": await _timed(ops, dequeue),
                "kv get": await _timed(ops, get)}
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.dsn)
    try:
        await admin.execute(
            f"CREATE SCHEMA {schema}; "
            f"CREATE TABLE {schema}.q (id BIGSERIAL PRIMARY KEY, queue_name TEXT, data BYTEA); "
            f"CREATE INDEX ON {schema}.q (queue_name, id); "
            f"CREATE TABLE {schema}.kv (k TEXT PRIMARY KEY, v BYTEA)"
        )
        await admin.executemany(f"INSERT INTO {schema}.kv VALUES ($1, $2)",
                                [(f"k{i}", b"v" * 100) for i in range(100)])
        results = {}
        for name, bench in (("asyncpg", bench_asyncpg), ("psycopg 3", bench_psycopg)):
            results[name] = await bench(args.dsn, schema, args.ops)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    rows = [
        [op, *(f"{results[d][op][0]:,.0f}/s p99 {results[d][op][1]:.1f} ms" for d in results),
         f"{results['asyncpg'][op][0] / results['psycopg 3'][op][0]:.2f}x"]
        for op in ("enqueue", "dequeue", "kv get")
    ]
    print_table(f"PostgreSQL drivers, {args.ops} ops each, {TASKS} tasks, pool {POOL}",
                ["operation", *results, "asyncpg/psycopg"], rows)


if __name__ == "__main__":
    asyncio.run(main())
