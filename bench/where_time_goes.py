"""Where a small request's time goes, ours against the Go original in the same run (issue 18's
profile for the targets ``bench/compare.py`` misses).

Under the same wrk load (2 threads, 64 connections) per case:
1. CPU per request: the whole process tree's user+system CPU over the run / requests answered,
   for ours, the Go original and a bare Granian ASGI app (the stack's floor on GET);
2. ours by thread and library (``perf record -e cpu-clock``, where perf works): the Python thread
   (interpreter, kernel, Granian's glue) against Granian's Rust I/O thread;
3. ours by code, the Python thread holding the GIL (``py-spy --gil``): our app, Granian's Python
   side, asyncio/uvloop; and the functions with the most samples of their own.

    .venv/bin/python bench/where_time_goes.py [--seconds 8] [--cases read,write]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BareApp, cpu_seconds, print_table, put_script, wrk  # noqa: E402
from compare import CONFIG, Anchor, Ours, Server, seed, tree_pids, unpack_anchors  # noqa: E402

#: case → (path and query after /api/v1, PUT body size or None for GET)
CASES = {
    "read": ("/files?path=/memfs/1k", None),
    "write": ("/files?path=/memfs/w1k", 1024),
    "stat": ("/stat?path=/memfs/1k", None),
    "enqueue": ("/files?path=/queuefs/q/enqueue", 1024),
}
#: Where a Python frame's file lives → who the time is charged to (first match wins).
OWNERS = (
    ("(pfs/", "our app (pfs), interpreter time included"),
    ("(granian/", "Granian's Python side"),
    ("(asyncio/", "asyncio"),
)
#: Native leaf frames charged to themselves, not to the Python code that called them.
NATIVE_OWNERS = (
    ("write (libc", "socket writes (Granian's send, on the loop thread)"),
    ("_granian.", "Granian's Rust code"),
    ("loop.c", "uvloop"),
    ("loop.cpython", "uvloop"),
)


def owner_of(frames: list[str]) -> str:
    """Who a sampled stack's time is charged to: a known native leaf, else the innermost
    Python frame's package (the interpreter's own frames count for the code it runs)."""
    leaf = frames[-1]
    for part, name in NATIVE_OWNERS:
        if part in leaf:
            return name
    for frame in reversed(frames):
        if ".py:" in frame:
            return next((name for part, name in OWNERS if part in frame), "other Python")
    return "other native"


def tree_cpu(pid: int) -> float:
    total = 0.0
    for one in tree_pids(pid):
        try:
            total += cpu_seconds(one)
        except OSError:
            pass
    return total


def cpu_per_request(url: str, pid: int, seconds: int, script: str | None) -> tuple[float, float]:
    """(req/s, CPU µs per request of ``pid``'s tree) over one wrk run."""
    before = tree_cpu(pid)
    rps, _ = wrk(url, seconds=seconds, script=script)
    used = tree_cpu(pid) - before
    return rps, used / (rps * seconds) * 1e6


def perf_split(pid: int, seconds: int) -> list[list[object]] | None:
    """Samples of ``pid``'s threads by thread and library, or None without a working perf."""
    if shutil.which("perf") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        recorded = subprocess.run(
            ["perf", "record", "-e", "cpu-clock", "-F", "1000", "-p", str(pid), "-o", str(data),
             "--", "sleep", str(seconds)],
            capture_output=True,
        )
        if recorded.returncode != 0 or not data.exists():
            return None
        report = subprocess.run(
            ["perf", "report", "-i", str(data), "--sort", "comm,dso", "--stdio", "-g", "none"],
            capture_output=True, text=True,
        ).stdout
    rows = []
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("%") and float(parts[0][:-1]) >= 0.5:
            thread = "Python (event loop)" if parts[1] == "python" else f"{parts[1]} (Granian I/O)"
            rows.append([thread, " ".join(parts[2:]), parts[0]])
    return rows


def pyspy_split(pid: int, seconds: int) -> tuple[list[list[object]], list[list[object]]] | None:
    """(time by owner, top functions) of the thread holding the GIL, or None without py-spy."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        subprocess.run(
            [pyspy, "record", "-p", str(pid), "-d", str(seconds), "-r", "500", "--gil", "--native",
             "-f", "raw", "-o", str(raw)],
            capture_output=True,
        )
        if not raw.exists():
            return None
        lines = raw.read_text().splitlines()
    owners: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        frames = stack.split(";")
        total += samples
        functions[frames[-1]] += samples
        owners[owner_of(frames)] += samples
    if not total:
        return None
    by_owner = [[name, f"{n / total * 100:.1f}%"] for name, n in owners.most_common()]
    top = [[name, f"{n / total * 100:.1f}%"] for name, n in functions.most_common(15)]
    return by_owner, top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--cases", default="read,write")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    workdir = Path(tempfile.mkdtemp(prefix="pfs-where-"))
    go_binary = unpack_anchors(workdir)["Go PFS"]
    scripts = {size: put_script(size) for _, size in CASES.values() if size}
    servers: list[Server] = [Ours(CONFIG), Anchor("Go PFS", go_binary, CONFIG, workdir)]
    bare = BareApp("bare_asgi:app", "asgi")
    try:
        for server in servers:
            seed(server.api)
        rows = []
        for case in cases:
            path, body = CASES[case]
            script = scripts[body] if body else None
            for server in servers:
                rps, cpu = cpu_per_request(server.api + path, server.pid, args.seconds, script)
                rows.append([case, server.name, f"{rps:,.0f}", f"{cpu:.1f}"])
            if case in ("read", "write"):  # the bare app answers GET with 1 KiB, reads PUTs
                rps, cpu = cpu_per_request(bare.url, bare.proc.pid, args.seconds, script)
                rows.append([case, "bare Granian ASGI app", f"{rps:,.0f}", f"{cpu:.1f}"])
        print_table("CPU per request (whole process tree, same wrk load)",
                    ["case", "server", "req/s", "CPU µs / request"], rows)
        ours = servers[0]
        assert isinstance(ours, Ours)
        worker = ours.proc.worker_pid()
        for case in cases:
            path, body = CASES[case]
            script = scripts[body] if body else None
            load = subprocess.Popen(
                ["wrk", "-t2", "-c64", f"-d{2 * args.seconds + 4}s", *(
                    ["-s", script] if script else []), ours.api + path],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)
            split = perf_split(worker, args.seconds)
            if split:
                print_table(f"{case}: ours by thread and library (perf, cpu-clock samples)",
                            ["thread", "library", "share"], split)
            else:
                print(f"\n{case}: perf record unavailable here")
            spied = pyspy_split(worker, args.seconds)
            load.wait()
            if spied:
                by_owner, top = spied
                print_table(f"{case}: ours, the thread holding the GIL, by code (py-spy --gil)",
                            ["code", "share of GIL samples"], by_owner)
                print_table(f"{case}: functions with the most samples of their own",
                            ["function (file:line)", "share"], top)
            else:
                print(f"\n{case}: py-spy unavailable (pip install py-spy)")
    finally:
        bare.close()
        for server in servers:
            server.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
