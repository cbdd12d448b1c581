"""Shared bench helpers: wrk runs, anchor servers and table printing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pfs.testing.server import free_port

HERE = Path(__file__).resolve().parent


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        subprocess.run(["bash", str(HERE.parent / "scripts" / "system-deps.sh")], check=True)
        path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is not installed and could not be installed")
    return path


def _latency_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, *, connections: int = 64, seconds: int = 8, script: str | None = None,
        threads: int = 2) -> tuple[float, float]:
    """(requests/s, p99 ms) of a wrk run."""
    args = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # The distribution's own line: a "+/- Stdev" column such as "91.99%" also ends in 99%.
    p99 = _latency_ms(re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses for {url}:\n{out}")
    return rps, p99


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (steadier than rates on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def put_script(body_size: int = 1024) -> str:
    """A wrk Lua script sending PUT requests with a body of ``body_size`` bytes."""
    fd, path = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(f'wrk.method = "PUT"\nwrk.body = string.rep("w", {body_size})\n')
    return path


class BareApp:
    """A bare Granian anchor app (``bare_rsgi:app`` or ``bare_asgi:app``) on a free port."""

    def __init__(self, target: str = "bare_rsgi:app", interface: str = "rsgi",
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", interface, "--host", "127.0.0.1",
             "--port", str(self.port), "--loop", "uvloop", "--workers", "1", "--no-ws",
             target],
            cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"bare app {target} did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
