"""Ours against the Go original (PFS 1e79eac) and its successor AGFS (4e0d236), same machine, same
run: small operations on memfs/kvfs/queuefs with wrk (interleaved rounds, the median kept), bare
Granian ASGI and RSGI apps as the stack's ceiling, 1 GiB streamed up and down through memfs with
the RSS growth of each server's whole process tree, and durable (SQLite) queues where the anchor
can run them. Not part of ``make test``.

    .venv/bin/python bench/compare.py [--seconds 5] [--rounds 3] [--size-mib 1024]

The anchors come from ``$PFS_ANCHORS`` (default ``../shared/anchors`` next to the checkout):
``go-bins.tar.xz`` is unpacked into a temporary directory for the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, BareApp, print_table, put_script, wrk  # noqa: E402

from pfs.testing.server import ServerProcess, free_port  # noqa: E402

MIB = 1 << 20
ANCHORS = Path(os.environ.get("PFS_ANCHORS", HERE.parent.parent / "shared" / "anchors"))

CONFIG: dict[str, Any] = {
    "server": {"log_level": "warn"},
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "kvfs": {"enabled": True, "path": "/kvfs"},
        "queuefs": {"enabled": True, "path": "/queuefs"},
        "streamfs": {"enabled": True, "path": "/streamfs"},
    },
}

#: case → (path and query after /api/v1, request body size for PUT or None for GET)
CASES: dict[str, tuple[str, int | None]] = {
    "read 1 KiB": ("/files?path=/memfs/1k", None),
    "write 1 KiB": ("/files?path=/memfs/w1k", 1024),
    "stat": ("/stat?path=/memfs/1k", None),
    "ls 10": ("/directories?path=/memfs/dir", None),
    "kv get": ("/files?path=/kvfs/keys/k1", None),
    "enqueue 1 KiB": ("/files?path=/queuefs/q/enqueue", 1024),
    # After the enqueue case of the same round, so the queue holds messages to take.
    "dequeue": ("/files?path=/queuefs/q/dequeue", None),
}
#: Minimum ratio ours / Go per case (issue 18).
TARGETS = {"read 1 KiB": 1.0, "stat": 1.0, "kv get": 1.0, "ls 10": 1.0, "write 1 KiB": 0.8,
           "enqueue 1 KiB": 0.8, "dequeue": 0.9}


def tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for parent in pids:
        try:
            pids += [int(p) for p in
                     Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            pass
    return pids


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total = 0
    for one in tree_pids(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class Server:
    """One server under test: ``api`` URL and ``pid`` of its process tree."""

    name: str
    api: str
    pid: int

    def close(self) -> None:
        raise NotImplementedError


class Ours(Server):
    def __init__(self, config: dict[str, Any]) -> None:
        self.name = "ours"
        self.proc = ServerProcess(config)
        self.api, self.pid = self.proc.api, self.proc.proc.pid

    def close(self) -> None:
        self.proc.close()


class Anchor(Server):
    """A Go anchor binary on a free port; ready once every configured mount is listed."""

    def __init__(self, name: str, binary: Path, config: dict[str, Any], workdir: Path) -> None:
        self.name = name
        port = free_port()
        config_path = workdir / f"{name}-{port}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        self.log = open(workdir / f"{name}-{port}.log", "wb")
        self.proc = subprocess.Popen(
            [str(binary), "-c", str(config_path), "-addr", f"127.0.0.1:{port}"],
            cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.api, self.pid = f"http://127.0.0.1:{port}/api/v1", self.proc.pid
        wanted = {p["path"] for p in config["plugins"].values()}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                mounts = httpx.get(self.api + "/mounts", timeout=1).json().get("mounts") or []
                if wanted <= {m["path"] for m in mounts}:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"{name} did not mount {sorted(wanted)}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def unpack_anchors(workdir: Path) -> dict[str, Path]:
    archive = ANCHORS / "go-bins.tar.xz"
    if not archive.exists():
        sys.exit(f"no anchors at {archive} (set PFS_ANCHORS)")
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    binaries = {"Go PFS": workdir / "bin" / "pfs-server", "AGFS": workdir / "bin" / "agfs-server"}
    for binary in binaries.values():
        binary.chmod(0o755)
    return binaries


def seed(api: str) -> None:
    """The files every case reads, the same on every server."""
    with httpx.Client(base_url=api, timeout=30) as http:
        http.put("/files", params={"path": "/memfs/1k"}, content=b"r" * 1024).raise_for_status()
        http.post("/directories", params={"path": "/memfs/dir"})
        for i in range(10):
            http.put("/files", params={"path": f"/memfs/dir/f{i}"}, content=b"x")
        http.put("/files", params={"path": "/kvfs/keys/k1"}, content=b"v" * 1024)
        http.post("/directories", params={"path": "/queuefs/q"})  # AGFS SQL queues need it


def check(api: str, path: str, body: int | None) -> str | None:
    """None when the case answers 2xx on this server, else what it answered."""
    url = api + path
    try:
        if body is None:
            answer = httpx.get(url, timeout=10)
        else:
            answer = httpx.put(url, content=b"w" * body, timeout=10)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if answer.is_success else f"{answer.status_code} {answer.text[:60]}"


def small_operations(servers: list[Server], bare: dict[str, str], seconds: int,
                     rounds: int) -> None:
    scripts = {size: put_script(size) for _, size in CASES.values() if size}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    failures: dict[tuple[str, str], str] = {}
    for server in servers:
        seed(server.api)
        for case, (path, body) in CASES.items():
            failure = check(server.api, path, body)
            if failure:
                failures[(case, server.name)] = failure
    for _ in range(rounds):
        for name, url in bare.items():
            results.setdefault(("bare", name), []).append(wrk(url, seconds=seconds))
        for case, (path, body) in CASES.items():
            for server in servers:
                if (case, server.name) in failures:
                    continue
                run = wrk(server.api + path, seconds=seconds,
                          script=scripts[body] if body else None)
                results.setdefault((case, server.name), []).append(run)

    def median(key: tuple[str, str]) -> tuple[float, float] | None:
        runs = results.get(key)
        if not runs:
            return None
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    names = [s.name for s in servers]
    rows = []
    for case in CASES:
        cells: list[object] = [case]
        measured = {n: median((case, n)) for n in names}
        cells += [f"{m[0]:,.0f}" if m else f"fails: {failures.get((case, n), '?')}"
                  for n, m in measured.items()]
        cells += [f"{m[1]:.1f}" if m else "—" for m in measured.values()]
        ours, go = measured.get("ours"), measured.get("Go PFS")
        if ours and go:
            ratio = ours[0] / go[0]
            goal = TARGETS[case]
            cells += [f"{ratio:.2f}", f"≥{goal:.1f} {'met' if ratio >= goal else 'MISSED'}",
                      "met" if ours[1] <= go[1] else "MISSED"]
        else:
            cells += ["—", "—", "—"]
        rows.append(cells)
    print_table(
        f"Small operations: wrk 2 threads, 64 connections, {seconds} s, median of {rounds} "
        "interleaved rounds",
        ["case", *[f"{n} req/s" for n in names], *[f"{n} p99 ms" for n in names], "ours / Go",
         "target", "p99 ≤ Go"],
        rows,
    )
    bare_rows = []
    for name in bare:
        rps, p99 = median(("bare", name)) or (0.0, 0.0)
        bare_rows.append([name, f"{rps:,.0f}", f"{p99:.1f}"])
    print_table("Ceiling: bare Granian apps answering GET (same rounds)",
                ["app", "req/s", "p99 ms"], bare_rows)


class PeakRss:
    """Samples the tree's RSS every 50 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = tree_rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def curl(args: list[str]) -> tuple[int, float]:
    """(HTTP status, seconds) of one curl transfer."""
    start = time.perf_counter()
    done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *args],
                          capture_output=True, text=True)
    return int(done.stdout or 0), time.perf_counter() - start


def streams(servers: list[Server], size_mib: int, workdir: Path) -> None:
    source = workdir / "big.bin"
    with open(source, "wb") as f:
        chunk = os.urandom(MIB)
        for _ in range(size_mib):
            f.write(chunk)
    rows = []
    for server in servers:
        url = f"{server.api}/files?path=/memfs/big"
        for direction, args in (("PUT", ["-T", str(source), url]), ("GET", [url])):
            base = tree_rss(server.pid)
            sampler = PeakRss(server.pid)
            status, seconds = curl(args)
            growth = sampler.stop() - base
            if 200 <= status < 300:
                rate = f"{size_mib * MIB / seconds / 1e6:,.0f}"
            else:
                rate = f"refused ({status})"
            # memfs keeps what a PUT stores: only growth beyond it is the transfer's cost.
            kept = size_mib * MIB if direction == "PUT" and 200 <= status < 300 else 0
            rows.append([server.name, direction, rate, f"{growth / MIB:,.0f}",
                         f"{(growth - kept) / MIB:,.0f}"])
        httpx.delete(url, timeout=60)
    print_table(f"{size_mib} MiB through memfs with curl (one transfer each)",
                ["server", "direction", "MB/s", "RSS growth MiB (process tree)",
                 "growth beyond the stored file MiB"], rows)


def durable_queues(make: dict[str, Callable[[dict[str, Any]], Server]], seconds: int,
                   workdir: Path) -> None:
    rows = []
    script = put_script(1024)
    for name, start in make.items():
        db = workdir / f"{name.replace(' ', '_')}-queue.db"
        config = {"server": {"log_level": "warn"}, "plugins": {"queuefs": {
            "enabled": True, "path": "/queuefs",
            "config": {"backend": "sqlite", "db_path": str(db)}}}}
        try:
            server = start(config)
        except RuntimeError as exc:
            rows.append([name, f"fails to start: {exc}", "", ""])
            continue
        try:
            httpx.post(server.api + "/directories", params={"path": "/queuefs/q"}, timeout=10)
            failure = check(server.api, "/files?path=/queuefs/q/enqueue", 1024)
            if failure:
                rows.append([name, f"fails: {failure}", "", ""])
                continue
            enq = wrk(server.api + "/files?path=/queuefs/q/enqueue", seconds=seconds,
                      script=script)
            deq = wrk(server.api + "/files?path=/queuefs/q/dequeue", seconds=seconds)
            rows.append([name, f"{enq[0]:,.0f}", f"{deq[0]:,.0f}", f"{enq[1]:.1f} / {deq[1]:.1f}"])
        finally:
            server.close()
    print_table("Durable queues (SQLite backend), wrk 2 threads, 64 connections",
                ["server", "enqueue req/s", "dequeue req/s", "p99 ms enq / deq"], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--skip-streams", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pfs-compare-") as tmp:
        workdir = Path(tmp)
        binaries = unpack_anchors(workdir)
        make: dict[str, Callable[[dict[str, Any]], Server]] = {"ours": Ours}
        for name, binary in binaries.items():
            make[name] = lambda config, n=name, b=binary: Anchor(n, b, config, workdir)
        servers = [start(CONFIG) for start in make.values()]
        bare = {"bare Granian ASGI": BareApp("bare_asgi:app", "asgi"), "bare Granian RSGI":
                BareApp()}
        try:
            small_operations(servers, {n: b.url for n, b in bare.items()}, args.seconds,
                             args.rounds)
            if not args.skip_streams:
                streams(servers, args.size_mib, workdir)
        finally:
            for app in bare.values():
                app.close()
            for server in servers:
                server.close()
        durable_queues(make, args.seconds, workdir)


if __name__ == "__main__":
    main()
