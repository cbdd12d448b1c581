"""What the Prometheus metrics cost: per request (in-process, the app with and without them),
memfs 1 KiB reads over HTTP with metrics on and off in the same run (wrk), and one scrape of
``/metrics`` (a server with 1,000 queues and 10 mounts).

Run: .venv/bin/python bench/metrics.py [--seconds N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, wrk  # noqa: E402

from pfs.server.cli import build_app  # noqa: E402
from pfs.testing.server import ServerProcess  # noqa: E402

MEMFS = {"memfs": {"enabled": True, "path": "/memfs"}}
#: Metrics may cost at most this share of memfs read throughput.
TARGET_LOSS = 0.05


def config(metrics: bool) -> dict[str, Any]:
    # The access log off in both: what is compared is the metrics alone.
    return {"server": {"metrics": metrics, "access_log": False}, "plugins": MEMFS}


async def in_process_us(metrics: bool, requests: int) -> float:
    """CPU µs per ``GET /api/v1/files`` of 1 KiB through the ASGI app, no network."""
    app = build_app(config(metrics))
    await app.state.mounting.start()  # app.startup() would also take over SIGINT/SIGTERM
    while app.state.mounting.counts()["pending"]:  # configured mounts start in the background
        await asyncio.sleep(0.01)
    await app.state.fs.write("/memfs/1k", b"r" * 1024)
    scope = {"type": "http", "method": "GET", "path": "/api/v1/files",
             "query_string": b"path=/memfs/1k", "headers": [], "client": ("127.0.0.1", 1)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(1000):
        await app(dict(scope), receive, send)
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(requests):
            await app(dict(scope), receive, send)
        best = min(best, time.process_time() - start)
    await app.state.mounting.stop()
    return best / requests * 1e6


def observe_us(calls: int) -> float:
    """µs of one ``Metrics.observe`` (the whole per-request work of the metrics)."""
    app = build_app(config(True))
    metrics = app.state.metrics
    assert metrics is not None
    start = time.process_time()
    for _ in range(calls):
        metrics.observe("/api/v1/files", "GET", 200, 0.0001)
    return (time.process_time() - start) / calls * 1e6


def throughput(seconds: int, rounds: int) -> list[list[object]]:
    """memfs reads with metrics on and off, servers up side by side, runs alternated."""
    results: dict[bool, list[float]] = {True: [], False: []}
    with ServerProcess(config(True)) as on, ServerProcess(config(False)) as off:
        for srv in (on, off):
            httpx.put(srv.api + "/files?path=/memfs/1k", content=b"r" * 1024)
        for _ in range(rounds):
            for metrics, srv in ((False, off), (True, on)):
                results[metrics].append(wrk(f"{srv.api}/files?path=/memfs/1k", seconds=seconds)[0])
    best_off, best_on = max(results[False]), max(results[True])
    ratio = best_on / best_off
    verdict = "ok" if ratio >= 1 - TARGET_LOSS else "MISSED"
    return [
        ["memfs read 1 KiB, metrics off (wrk, best run)", f"{best_off:,.0f} req/s", ""],
        ["memfs read 1 KiB, metrics on (wrk, best run)", f"{best_on:,.0f} req/s",
         f"{ratio:.0%} of off, ≥{1 - TARGET_LOSS:.0%} {verdict}"],
    ]


def scrape_cost(scrapes: int) -> list[list[object]]:
    """One scrape of a server with 10 mounts and a queuefs of 1,000 queues."""
    plugins: dict[str, Any] = {
        "memfs": [{"name": f"m{i}", "enabled": True, "path": f"/m{i}"} for i in range(9)],
        "queuefs": {"enabled": True, "path": "/queue", "config": {"backend": "memory"}},
    }
    with ServerProcess({"server": {"access_log": False}, "plugins": plugins}) as srv, \
            httpx.Client(base_url=srv.api, timeout=30) as api, \
            httpx.Client(base_url=srv.url, timeout=30) as scraper:
        for i in range(1000):
            api.put("/files", params={"path": f"/queue/q{i}/enqueue"}, content=b"job")
        for i in range(9):
            api.get("/files", params={"path": f"/m{i}/nope"})
        times = []
        size = 0
        for _ in range(scrapes):
            start = time.perf_counter()
            response = scraper.get("/metrics")
            times.append(time.perf_counter() - start)
            size = len(response.content)
        return [[f"GET /metrics: 10 mounts, 1,000 queues (median of {scrapes}, one connection)",
                 f"{statistics.median(times) * 1000:.1f} ms",
                 f"{size / 1024:.0f} KiB, {response.text.count(chr(10))} lines"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    off = asyncio.run(in_process_us(False, 20_000))
    on = asyncio.run(in_process_us(True, 20_000))
    rows: list[list[object]] = [
        ["Metrics.observe (one request's metrics work)", f"{observe_us(200_000):.2f} µs", ""],
        ["GET 1 KiB through the app in-process, metrics off", f"{off:.1f} µs", ""],
        ["GET 1 KiB through the app in-process, metrics on", f"{on:.1f} µs",
         f"+{on - off:.1f} µs"],
    ]
    rows += throughput(args.seconds, args.rounds)
    rows += scrape_cost(50)
    print_table("Prometheus metrics: per-request and scrape cost",
                ["case", "measured", "note"], rows)


if __name__ == "__main__":
    main()
