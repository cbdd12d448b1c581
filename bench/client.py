"""SDK and shell transfer speed against curl (the anchor), all on one memfs server.

Moves SIZE bytes up and down with: curl, the sync Client, the AsyncClient, and the `pfs`
command. Also a small-request rate (stat) for the sync client against curl-free httpx.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

from pfs.client import AsyncClient, Client  # noqa: E402
from pfs.testing.server import ServerProcess  # noqa: E402

SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024
CONFIG = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}


def chunks():
    block = os.urandom(CHUNK)
    for _ in range(SIZE // CHUNK):
        yield block


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def mbps(seconds: float) -> str:
    return f"{SIZE / seconds / 1e6:.0f}"


def main() -> None:
    rows = []
    with ServerProcess(CONFIG) as server, tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "payload.bin"
        with open(local, "wb") as f:
            for block in chunks():
                f.write(block)
        url = server.api + "/files?path=/memfs/"
        up = timed(
            lambda: subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-T", str(local), url + "curl"], check=True
            )
        )
        down = timed(
            lambda: subprocess.run(["curl", "-sS", "-o", os.devnull, url + "curl"], check=True)
        )
        rows.append(["curl (anchor)", mbps(up), mbps(down)])

        with Client(server.url) as client:
            up = timed(lambda: client.upload(local, "/memfs/sync"))
            down = timed(lambda: client.download("/memfs/sync", os.devnull))
            rows.append(["Client upload/download", mbps(up), mbps(down)])
            up = timed(lambda: client.write("/memfs/gen", chunks()))
            down = timed(lambda: sum(len(c) for c in client.iter_cat("/memfs/gen")))
            rows.append(["Client write(iter)/iter_cat", mbps(up), mbps(down)])

        async def async_run():
            async with AsyncClient(server.url) as client:
                start = time.perf_counter()
                await client.upload(local, "/memfs/async")
                up = time.perf_counter() - start
                start = time.perf_counter()
                await client.download("/memfs/async", os.devnull)
                return up, time.perf_counter() - start

        up, down = asyncio.run(async_run())
        rows.append(["AsyncClient upload/download", mbps(up), mbps(down)])

        env = {**os.environ, "PFS_API_URL": server.url}
        pfs = [sys.executable, "-m", "pfs.shell.cli"]
        up = timed(
            lambda: subprocess.run(
                [*pfs, "upload", str(local), "/memfs/cli"], env=env, check=True, capture_output=True
            )
        )
        down = timed(
            lambda: subprocess.run(
                [*pfs, "cat", "/memfs/cli"], env=env, check=True, stdout=subprocess.DEVNULL
            )
        )
        rows.append(["pfs upload / pfs cat", mbps(up), mbps(down)])
        print_table(
            f"{SIZE // 2**20} MiB to/from memfs (MB/s, higher is better)",
            ["client", "upload", "download"],
            rows,
        )

        n = 2000
        with httpx.Client(base_url=server.api) as raw:
            raw_s = timed(
                lambda: [raw.get("/stat", params={"path": "/memfs/sync"}) for _ in range(n)]
            )
        with Client(server.url) as client:
            sdk_s = timed(lambda: [client.stat("/memfs/sync") for _ in range(n)])
        print_table(
            f"{n} sequential stat calls (requests/s)",
            ["client", "req/s"],
            [
                ["raw httpx.Client (anchor)", f"{n / raw_s:.0f}"],
                ["pfs.client.Client.stat", f"{n / sdk_s:.0f}"],
            ],
        )


if __name__ == "__main__":
    main()
