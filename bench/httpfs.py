"""httpfs GETs of a 1 KiB and a 100 MiB file (localfs underneath), against pfs-server's own
``GET /files`` of the same files in the same run: wrk for the small file, curl for the large one.
Besides rates it reports the server's CPU time per request (user + system of the process serving
them), which a machine shared with other work disturbs far less than the rates.

    .venv/bin/python bench/httpfs.py [--rounds 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, wrk  # noqa: E402

from pfs.testing.server import ServerProcess, free_port  # noqa: E402

MIB = 1 << 20
BIG = 100 * MIB
CONNECTIONS = 16


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl_seconds(url: str) -> float:
    start = time.perf_counter()
    subprocess.run(["curl", "-sfS", "-o", "/dev/null", url], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "small.bin").write_bytes(os.urandom(1024))
        with open(Path(root) / "big.bin", "wb") as out:
            for _ in range(BIG // MIB):
                out.write(os.urandom(MIB))
        port = free_port()
        config = {
            "plugins": {
                "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": root}},
                "httpfs": {
                    "enabled": True,
                    "path": "/web",
                    "config": {"pfs_path": "/local", "port": port},
                },
            }
        }
        with ServerProcess(config) as server:
            sites = {
                "httpfs": lambda name: f"http://127.0.0.1:{port}/{name}",
                "pfs-server GET /files": lambda name: f"{server.api}/files?path=/local/{name}",
            }
            for url_of in sites.values():  # both answer before anything is timed
                small = httpx.get(url_of("small.bin")).content
                assert small == (Path(root) / "small.bin").read_bytes()
            pid = server.worker_pid()
            rows = []
            for label, url_of in sites.items():
                cpu = cpu_seconds(pid)
                rps, p99 = wrk(url_of("small.bin"), connections=CONNECTIONS, seconds=args.seconds)
                small_cpu = (cpu_seconds(pid) - cpu) / (rps * args.seconds)
                cpu = cpu_seconds(pid)
                runs = [curl_seconds(url_of("big.bin")) for _ in range(args.rounds)]
                big_cpu = (cpu_seconds(pid) - cpu) / args.rounds
                rate = BIG / MIB / statistics.median(runs)
                rows.append([
                    label, f"{rps:,.0f}", f"{p99:.1f}", f"{small_cpu * 1e6:,.0f}", f"{rate:,.0f}",
                    f"{big_cpu * 1e3:,.0f}",
                ])
    print_table(
        "httpfs vs pfs-server, same files, same run",
        [
            "server", f"1 KiB GET req/s (c={CONNECTIONS})", "p99 ms", "CPU µs/GET",
            "100 MiB GET MB/s (median)", "CPU ms/GET",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
