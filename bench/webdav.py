"""WebDAV GET and PUT of a 1 KiB and a 100 MiB file (localfs underneath) against pfs-server's own
``/api/v1/files`` on the same server in the same run: wrk for the small file, curl for the large
one (``curl -T`` for PUT). The ratio column is WebDAV's share of the API's rate (target >= 80%).
Rates swing with the load of the shared machine; the server's CPU time per request (user +
system of the process serving them) much less, so both are reported.

    .venv/bin/python bench/webdav.py [--rounds 3] [--seconds 5]
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

from _common import cpu_seconds, print_table, put_script, wrk  # noqa: E402

from pfs.testing.server import ServerProcess  # noqa: E402

MIB = 1 << 20
BIG = 100 * MIB
CONNECTIONS = 16


def curl_seconds(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(["curl", "-sfS", "-o", "/dev/null", *args], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as scratch:
        small = os.urandom(1024)
        (Path(root) / "small.bin").write_bytes(small)
        big = Path(scratch) / "big.bin"
        with open(big, "wb") as out:
            for _ in range(BIG // MIB):
                out.write(os.urandom(MIB))
        (Path(root) / "big.bin").write_bytes(big.read_bytes())
        config = {
            "plugins": {
                "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": root}},
            }
        }
        script = put_script(1024)
        with ServerProcess(config) as server:
            sites = {
                "WebDAV": lambda name: f"{server.url}/webdav/local/{name}",
                "GET/PUT /api/v1/files": lambda name: f"{server.api}/files?path=/local/{name}",
            }
            for url_of in sites.values():  # both answer before anything is timed
                assert httpx.get(url_of("small.bin")).content == small
            # Rounds alternate between the two sites so a busy moment of the shared machine
            # falls on both; each figure is the median of its rounds.
            samples: dict[str, list[list[float]]] = {label: [[], [], [], []] for label in sites}
            cpu: dict[str, list[list[float]]] = {label: [[], [], [], []] for label in sites}
            p99s: dict[str, list[list[float]]] = {label: [[], []] for label in sites}
            pid = server.worker_pid()
            for _ in range(args.rounds):
                for label, url_of in sites.items():
                    before = cpu_seconds(pid)
                    get_rps, get_p99 = wrk(url_of("small.bin"), connections=CONNECTIONS,
                                           seconds=args.seconds)
                    cpu[label][0].append((cpu_seconds(pid) - before) / (get_rps * args.seconds))
                    before = cpu_seconds(pid)
                    put_rps, put_p99 = wrk(url_of("put.bin"), connections=CONNECTIONS,
                                           seconds=args.seconds, script=script)
                    cpu[label][1].append((cpu_seconds(pid) - before) / (put_rps * args.seconds))
                    before = cpu_seconds(pid)
                    get_s = curl_seconds(url_of("big.bin"))
                    cpu[label][2].append(cpu_seconds(pid) - before)
                    before = cpu_seconds(pid)
                    put_s = curl_seconds("-T", str(big), url_of("upload.bin"))
                    cpu[label][3].append(cpu_seconds(pid) - before)
                    assert (Path(root) / "upload.bin").stat().st_size == BIG
                    for i, value in enumerate((get_rps, put_rps, BIG / MIB / get_s,
                                               BIG / MIB / put_s)):
                        samples[label][i].append(value)
                    p99s[label][0].append(get_p99)
                    p99s[label][1].append(put_p99)
        os.unlink(script)
    names = ["1 KiB GET", "1 KiB PUT", "100 MiB GET", "100 MiB PUT"]
    units = ["req/s (wrk c=16)", "req/s (wrk c=16)", "MB/s (curl)", "MB/s (curl -T)"]
    cpu_units = [("µs", 1e6), ("µs", 1e6), ("ms", 1e3), ("ms", 1e3)]
    dav_label, api_label = sites
    rows = []
    for i, name in enumerate(names):
        ours = statistics.median(samples[dav_label][i])
        theirs = statistics.median(samples[api_label][i])
        rows.append(
            [f"{name} {units[i]}", f"{ours:,.0f}", f"{theirs:,.0f}", f"{ours / theirs:.0%}"]
        )
    for i, name in enumerate(names):
        unit, scale = cpu_units[i]
        ours, theirs = statistics.median(cpu[dav_label][i]), statistics.median(cpu[api_label][i])
        rows.append([f"{name} server CPU {unit}/request", f"{ours * scale:,.0f}",
                     f"{theirs * scale:,.0f}", f"{theirs / ours:.0%}"])
    for i, name in enumerate(("1 KiB GET p99 ms", "1 KiB PUT p99 ms")):
        rows.append([name, f"{statistics.median(p99s[dav_label][i]):.1f}",
                     f"{statistics.median(p99s[api_label][i]):.1f}", ""])
    print_table(
        f"WebDAV vs /api/v1/files, localfs, same server, same run (median of {args.rounds})",
        ["operation", "WebDAV", "/api/v1/files", "WebDAV / API (CPU: API / WebDAV)"],
        rows,
    )


if __name__ == "__main__":
    main()
