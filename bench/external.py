"""Read throughput of external plugins (native hellofs-c, WASM hellofs-wasm) against memfs serving
a file of the same size, in one run: a server per WASM setting (a pool of 1 instance, a pool of 4,
inline calls), each measuring its own memfs anchor.

Rounds are interleaved, each running every case back to back (in turn forward and backward, so
no case always runs first). The ratio to memfs is the median of the rounds' own ratios: on a
shared machine whose load comes and goes, a case compared with the anchor measured beside it is
steadier than best against best, where one quiet moment for either skews the ratio. The req/s
column is the best round.

Run: .venv/bin/python bench/external.py [--seconds N] [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ensure_wrk, print_table  # noqa: E402

from pfs.testing.server import ServerProcess  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"
TARGETS = {"native": 0.80, "wasm": 0.50, "pool": 0.70}
#: (label, external_plugins.wasm settings, whether the native plugin is measured too)
MODES = (
    ("pool of 1", {"instance_pool_size": 1}, True),
    ("pool of 4", {"instance_pool_size": 4}, False),
    ("inline_calls, pool of 1", {"instance_pool_size": 1, "inline_calls": True}, False),
)


def build() -> tuple[Path, Path]:
    subprocess.run(["make", "-s", "-C", str(EXAMPLES / "hellofs-c")], check=True)
    subprocess.run(["make", "-s", "-C", str(EXAMPLES / "hellofs-wasm")], check=True)
    return EXAMPLES / "hellofs-c" / "libhellofs-c.so", EXAMPLES / "hellofs-wasm" / "hellofs.wasm"


def config(native: Path, wasm: Path, settings: dict) -> dict:
    return {
        "external_plugins": {
            "enabled": True,
            "plugin_paths": [str(native), str(wasm)],
            "wasm": settings,
        },
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "hellofs-c": {"enabled": True, "path": "/helloc"},
            "hellofs-wasm": {"enabled": True, "path": "/hw"},
        },
    }


def wrk_rps(url: str, seconds: int) -> float:
    """Requests/s of one wrk run (32 connections, 1 thread); error answers abort the bench."""
    args = [ensure_wrk(), "-t1", "-c32", f"-d{seconds}s", url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses for {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(
    srv: ServerProcess, seconds: int, rounds: int, with_native: bool
) -> dict[str, list[float]]:
    """Each case's req/s per round."""
    api = httpx.Client(base_url=srv.api)
    # memfs serves the same 30 bytes hellofs-c does (hellofs-wasm's file is 12 bytes).
    api.put("/files", params={"path": "/memfs/hello"}, content=b"Hello from C dynamic library!\n")
    urls = {
        "memfs": f"{srv.api}/files?path=/memfs/hello",
        "native": f"{srv.api}/files?path=/helloc/hello",
        "wasm": f"{srv.api}/files?path=/hw/hello.txt",
    }
    if not with_native:
        del urls["native"]
    for url in urls.values():
        assert api.get(url).status_code == 200, url
    samples: dict[str, list[float]] = {name: [] for name in urls}
    order = list(urls)
    for _ in range(rounds):
        for name in order:
            samples[name].append(wrk_rps(urls[name], seconds))
        order.reverse()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    native, wasm = build()
    rows = []
    for mode, settings, with_native in MODES:
        with ServerProcess(config(native, wasm, settings)) as srv:
            samples = measure(srv, args.seconds, args.rounds, with_native)
        rps = {name: max(values) for name, values in samples.items()}
        rows.append([f"memfs read 30 B (anchor) [{mode}]", f"{rps['memfs']:,.0f}", "100%", "", ""])
        for name in ("native", "wasm"):
            if name not in rps:
                continue
            ratios = [
                case / anchor for case, anchor in zip(samples[name], samples["memfs"], strict=True)
            ]
            ratio = statistics.median(ratios)
            target = TARGETS["pool" if name == "wasm" and settings["instance_pool_size"] > 1
                             else name]
            verdict = "ok" if ratio >= target else "MISSED"
            label = "native hellofs-c read" if name == "native" else "WASM hellofs-wasm read"
            rows.append([f"{label} [{mode}]", f"{rps[name]:,.0f}", f"{ratio:.0%}",
                         f"{min(ratios):.0%}–{max(ratios):.0%}", f"≥{target:.0%} {verdict}"])
    print_table(
        f"External plugin reads, 32 connections (wrk, 1 thread, {args.rounds} interleaved "
        f"rounds of {args.seconds} s; req/s: the best round; vs memfs: the median of the "
        "rounds' ratios)",
        ["case", "req/s", "vs memfs", "rounds", "target"], rows,
    )


if __name__ == "__main__":
    main()
