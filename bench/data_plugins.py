"""Data plugins through a real pfs-server: 1 KiB read req/s and 100 MiB streamed MB/s for sqlfs
(SQLite, MariaDB), s3fs (moto_server) and proxyfs (to a second server's memfs), each next to
direct memfs on the same server in the same run (the anchor). A bare ASGI proxy on proxyfs's own
HTTP pool (bare_proxy.py) fetching the same remote file shows what any proxy built this way can do.

Run: .venv/bin/python bench/data_plugins.py [--seconds N] [--mib N]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BareApp, print_table, wrk  # noqa: E402

from pfs.testing.moto import MotoServer  # noqa: E402
from pfs.testing.server import ServerProcess  # noqa: E402

PROXY_TARGET = 0.50
CEILING = "bare ASGI proxy, same pool → memfs"
MEMFS = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}


def mariadb_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=2).close()
        return True
    except OSError:
        return False


def drop_database(name: str) -> None:
    import asyncmy

    async def drop() -> None:
        conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()

    asyncio.run(drop())


def stream_mb_s(api: httpx.Client, path: str, mib: int) -> tuple[float, float]:
    """(upload MB/s, download MB/s) of a ``mib`` MiB file streamed both ways."""
    piece = b"s" * (1 << 20)

    def body():
        for _ in range(mib):
            yield piece

    start = time.perf_counter()
    r = api.put("/files", params={"path": path}, content=body())
    r.raise_for_status()
    up = time.perf_counter() - start
    start = time.perf_counter()
    received = 0
    with api.stream("GET", "/files", params={"path": path}) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            received += len(chunk)
    down = time.perf_counter() - start
    assert received == mib << 20, f"{path}: got {received} bytes"
    api.delete("/files", params={"path": path})
    return (mib * 1.048576) / up, (mib * 1.048576) / down


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--mib", type=int, default=100)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="pfs-bench-")
    database = f"pfs_bench_{uuid.uuid4().hex[:8]}" if mariadb_up() else None
    with MotoServer() as moto, ServerProcess(MEMFS) as remote:
        moto.client().create_bucket(Bucket="bench")
        plugins = {
            "memfs": {"enabled": True, "path": "/memfs"},
            "sqlfs": [
                {
                    "name": "sqlite",
                    "enabled": True,
                    "path": "/sqlite",
                    "config": {"db_path": f"{tmp.name}/bench.db", "max_file_size": "1GB"},
                }
            ],
            "s3fs": {"enabled": True, "path": "/s3", "config": moto.mount_config("bench")},
            "proxyfs": {"enabled": True, "path": "/proxy", "config": {"base_url": remote.url}},
        }
        if database:
            plugins["sqlfs"].append(
                {
                    "name": "mysql",
                    "enabled": True,
                    "path": "/mysql",
                    "config": {
                        "backend": "mysql",
                        "max_file_size": "1GB",
                        "dsn": f"root:@tcp(127.0.0.1:3306)/{database}",
                    },
                }
            )
        cases = [("memfs (anchor)", "/memfs"), ("sqlfs SQLite", "/sqlite")]
        if database:
            cases.append(("sqlfs MariaDB", "/mysql"))
        cases += [("s3fs moto", "/s3"), ("proxyfs → memfs", "/proxy/memfs")]
        try:
            with (
                ServerProcess({"plugins": plugins}) as srv,
                httpx.Client(base_url=srv.api, timeout=600) as api,
            ):
                results = {}
                for name, root in cases:
                    api.put("/files", params={"path": f"{root}/1k"}, content=b"r" * 1024)
                    rps, p99 = wrk(f"{srv.api}/files?path={root}/1k", seconds=args.seconds)
                    up, down = stream_mb_s(api, f"{root}/big.bin", args.mib)
                    results[name] = (rps, p99, up, down)
            # The same remote file through the thinnest ASGI proxy on proxyfs's own pool.
            ceiling = BareApp(
                "bare_proxy:app",
                "asgi",
                env={"REMOTE": remote.url, "REMOTE_PATH": "/api/v1/files?path=/memfs/1k"},
            )
            try:
                results[CEILING] = (*wrk(ceiling.url, seconds=args.seconds), 0.0, 0.0)
            finally:
                ceiling.close()
        finally:
            if database:
                drop_database(database)
            tmp.cleanup()

    anchor = results["memfs (anchor)"][0]
    rows = []
    for name, (rps, p99, up, down) in results.items():
        target = ""
        if name.startswith("proxyfs"):
            target = f"≥{PROXY_TARGET:.0%} {'ok' if rps / anchor >= PROXY_TARGET else 'MISSED'}"
            target += f"; {rps / results[CEILING][0]:.0%} of the bare proxy"
        transfer = ["", ""] if name == CEILING else [f"{up:,.0f}", f"{down:,.0f}"]
        rows.append([name, f"{rps:,.0f}", f"{p99:.1f}", f"{rps / anchor:.0%}", target, *transfer])
    print_table(
        f"Data plugins: 1 KiB GET (wrk, 64 connections, {args.seconds}s) and "
        f"{args.mib} MiB streamed PUT/GET",
        ["plugin", "1 KiB req/s", "p99 ms", "vs memfs", "target", "PUT MB/s", "GET MB/s"],
        rows,
    )
    if not database:
        print("(MariaDB not reachable on 127.0.0.1:3306: sqlfs MariaDB row skipped)")


if __name__ == "__main__":
    main()
