"""Core server throughput (memfs) against a bare Granian RSGI app, plus memfs memory and listing.

Run: .venv/bin/python bench/core.py [--seconds N] [--skip-memory]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BareApp, print_table, put_script, wrk  # noqa: E402

from pfs.testing.server import ServerProcess  # noqa: E402

TARGETS = {"read": 0.75, "write": 0.60, "stat": 0.70, "ls": 0.70}


def throughput(seconds: int) -> None:
    bare = BareApp()
    bare_asgi = BareApp("bare_asgi:app", "asgi")
    config = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}
    with ServerProcess(config) as srv:
        api = httpx.Client(base_url=srv.api)
        api.put("/files", params={"path": "/memfs/1k"}, content=b"r" * 1024)
        api.post("/directories", params={"path": "/memfs/dir"})
        for i in range(10):
            api.put("/files", params={"path": f"/memfs/dir/f{i}"}, content=b"x")
        anchor_rps, anchor_p99 = wrk(bare.url, seconds=seconds)
        asgi_runs = {
            "bare Granian ASGI GET 1 KiB": wrk(bare_asgi.url, seconds=seconds),
            "bare Granian ASGI PUT 1 KiB (reads body)": wrk(bare_asgi.url, seconds=seconds,
                                                           script=put_script(1024)),
        }
        runs = {
            "read": wrk(f"{srv.api}/files?path=/memfs/1k", seconds=seconds),
            "write": wrk(f"{srv.api}/files?path=/memfs/w1k", seconds=seconds,
                         script=put_script(1024)),
            "stat": wrk(f"{srv.api}/stat?path=/memfs/1k", seconds=seconds),
            "ls": wrk(f"{srv.api}/directories?path=/memfs/dir", seconds=seconds),
        }
    bare.close()
    bare_asgi.close()
    rows = [["bare Granian RSGI (anchor)", f"{anchor_rps:,.0f}", f"{anchor_p99:.2f}", "100%", ""]]
    for name, (rps, p99) in asgi_runs.items():
        rows.append([name, f"{rps:,.0f}", f"{p99:.2f}", f"{rps / anchor_rps:.0%}", "ceiling"])
    for name, (rps, p99) in runs.items():
        ratio = rps / anchor_rps
        verdict = "ok" if ratio >= TARGETS[name] else "MISSED"
        rows.append([f"pfs memfs {name} 1 KiB", f"{rps:,.0f}", f"{p99:.2f}", f"{ratio:.0%}",
                     f"≥{TARGETS[name]:.0%} {verdict}"])
    print_table("HTTP throughput, 64 connections (wrk, 2 threads)",
                ["case", "req/s", "p99 ms", "vs anchor", "target"], rows)


def memory_and_listing() -> None:
    config = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}
    rows = []
    with ServerProcess(config) as srv:
        api = httpx.Client(base_url=srv.api, timeout=60)
        base = srv.rss_bytes()
        block = b"m" * (1 << 20)
        for i in range(1024):
            api.put("/files", params={"path": f"/memfs/f{i}"}, content=block)
        grown = srv.rss_bytes() - base
        rows.append(["RSS growth after 1 GiB in 1 MiB files", f"{grown / 2**30:.3f} GiB",
                     "≤ 1.15 GiB", "ok" if grown <= 1.15 * 2**30 else "MISSED"])
    with ServerProcess(config) as srv:
        api = httpx.Client(base_url=srv.api, timeout=60)
        api.post("/directories", params={"path": "/memfs/many"})
        with httpx.Client(base_url=srv.api, timeout=60,
                          limits=httpx.Limits(max_connections=8)) as c:
            for i in range(100_000):
                c.post("/files", params={"path": f"/memfs/many/file-{i:06d}"})
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            r = api.get("/directories", params={"path": "/memfs/many"})
            best = min(best, time.perf_counter() - start)
            assert len(r.json()["files"]) == 100_000
        rows.append(["GET /directories of 100k entries", f"{best:.3f} s", "< 1 s",
                     "ok" if best < 1 else "MISSED"])
    print_table("memfs memory and listing", ["case", "measured", "target", ""], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    throughput(args.seconds)
    if not args.skip_memory:
        memory_and_listing()


if __name__ == "__main__":
    main()
