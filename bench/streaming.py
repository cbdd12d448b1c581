"""1 GiB streamed reads and writes through localfs and memfs, against nginx (sendfile reads,
WebDAV PUT writes) serving and accepting the same file in the same run; then the server's RSS with
4 readers capped at 4 MB/s each. The client is curl for everyone.

    .venv/bin/python bench/streaming.py [--size-mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, print_table  # noqa: E402

from pfs.testing.server import ServerProcess, free_port  # noqa: E402

MIB = 1 << 20
TARGET_SHARE = 0.80
RSS_LIMIT = 64 * MIB
SLOW_READERS = 4
SLOW_RATE = "4M"  # curl --limit-rate: 4 MB/s per reader
SLOW_SECONDS = 12


def ensure_tools() -> None:
    if shutil.which("nginx") is None or shutil.which("curl") is None:
        subprocess.run(["bash", str(HERE.parent / "scripts" / "system-deps.sh")], check=True)
    if shutil.which("nginx") is None or shutil.which("curl") is None:
        sys.exit("nginx and curl are needed (scripts/system-deps.sh installs them)")


class Nginx:
    """nginx on a free loopback port: sendfile for GET, WebDAV PUT into ``root``."""

    def __init__(self, workdir: Path) -> None:
        self.root = workdir / "www"
        self.root.mkdir(parents=True)
        (workdir / "body").mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = workdir / "nginx.conf"
        conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_max_body_size 0;
    client_body_temp_path {workdir}/body;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location / {{ dav_methods PUT; create_full_put_path on; }}
    }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {(workdir / 'error.log').read_text()}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def curl_get(url: str) -> float:
    """Seconds to download ``url`` to /dev/null."""
    start = time.perf_counter()
    subprocess.run(["curl", "-sfS", "-o", "/dev/null", url], check=True)
    return time.perf_counter() - start


def curl_put(url: str, source: Path) -> float:
    # Flush earlier writers' dirty pages first, so no contender pays for the previous one's
    # writeback (nginx's, ours and memfs's uploads run back to back).
    os.sync()
    start = time.perf_counter()
    subprocess.run(["curl", "-sfS", "-o", "/dev/null", "-T", str(source), url], check=True)
    return time.perf_counter() - start


def make_source(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with open(path, "wb") as out:
        for index in range(size // MIB):
            out.write(index.to_bytes(8, "little") + block[8:])


def best_rate(runs: list[float], size: int) -> float:
    """MB/s of the median run (the machine is shared; the median resists noise)."""
    return size / MIB / statistics.median(runs)


def slow_readers_rss(server: ServerProcess, path: str) -> tuple[int, int]:
    """(start RSS, peak RSS) while 4 curl readers pull ``path`` at 4 MB/s each."""
    url = f"{server.api}/files?path={path}"
    start = server.rss_bytes()
    readers = [
        subprocess.Popen(["curl", "-s", "-o", "/dev/null", "--limit-rate", SLOW_RATE,
                          "--max-time", str(SLOW_SECONDS), url])
        for _ in range(SLOW_READERS)
    ]
    peak = start
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.1):
            peak = max(peak, server.rss_bytes())

    sampler = threading.Thread(target=sample)
    sampler.start()
    for reader in readers:
        reader.wait()
    stop.set()
    sampler.join()
    return start, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MIB
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="pfs-bench-stream-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        make_source(source, size)
        local = work / "local"
        local.mkdir()
        nginx = Nginx(work / "nginx")
        config = {"plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(local)}},
        }}
        server = ServerProcess(config)
        try:
            rss_idle = server.rss_bytes()
            targets = {
                "nginx": (f"{nginx.url}/big.bin", f"{nginx.url}/big.bin"),
                "pfs localfs": (f"{server.api}/files?path=/local/big.bin",) * 2,
                "pfs memfs": (f"{server.api}/files?path=/memfs/big.bin",) * 2,
            }
            writes: dict[str, list[float]] = {name: [] for name in targets}
            reads: dict[str, list[float]] = {name: [] for name in targets}
            peak_write_rss = rss_idle
            for _ in range(args.rounds):
                # Interleaved rounds, so a noisy neighbour hurts every contender alike.
                for name, (put_url, get_url) in targets.items():
                    writes[name].append(curl_put(put_url, source))
                    if name == "pfs localfs":
                        peak_write_rss = max(peak_write_rss, server.rss_bytes())
                    reads[name].append(curl_get(get_url))
            httpx.delete(f"{server.api}/files", params={"path": "/memfs/big.bin"}, timeout=60)
            rss_start, rss_peak = slow_readers_rss(server, "/local/big.bin")
        finally:
            server.close()
            nginx.close()

    anchor_read = best_rate(reads["nginx"], size)
    anchor_write = best_rate(writes["nginx"], size)
    rows = []
    for name in targets:
        read, write = best_rate(reads[name], size), best_rate(writes[name], size)
        rows.append([name, f"{read:.0f}", f"{read / anchor_read:.0%}",
                     f"{write:.0f}", f"{write / anchor_write:.0%}"])
    print_table(
        f"Streamed {args.size_mib} MiB with curl, median of {args.rounds} rounds "
        f"(target ≥ {TARGET_SHARE:.0%} of nginx)",
        ["server", "read MB/s", "of nginx", "write MB/s", "of nginx"], rows)
    growth = rss_peak - rss_start
    print_table(
        f"Server RSS, {SLOW_READERS} readers of /local/big.bin at {SLOW_RATE}B/s for "
        f"{SLOW_SECONDS} s (target growth ≤ {RSS_LIMIT // MIB} MiB)",
        ["RSS idle MiB", "RSS before readers MiB", "peak MiB", "growth MiB", "within target"],
        [[rss_idle // MIB, rss_start // MIB, rss_peak // MIB, f"{growth / MIB:.1f}",
          "yes" if growth <= RSS_LIMIT else "NO"]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
