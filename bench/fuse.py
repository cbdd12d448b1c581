"""FUSE throughput against the SDK (the anchor), on one memfs server in the same run.

* 100 MiB sequential write and read through the `pfs fuse` mount (1 MiB write()/read() calls)
  against the same through the sync Client (one streamed PUT, one streamed GET).
* Small files: `cat` of 1,000 1 KiB files through the mount (one `cat` process for all, and
  Python open/read per file) against `Client.cat` per file.

Needs root and /dev/fuse (scripts/system-deps.sh installs fuse3).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

from pfs.client import Client  # noqa: E402
from pfs.testing.server import ServerProcess  # noqa: E402

SIZE = 100 * 1024 * 1024
CHUNK = 1024 * 1024
SMALL_FILES = 1000
SMALL_SIZE = 1024
ROUNDS = 3
CONFIG = {"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}}
PFS = str(Path(sys.executable).parent / "pfs")


def best(action) -> float:
    """Fastest of ROUNDS runs, in seconds (the machine is shared; the minimum is the signal)."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def mount(url: str, mountpoint: Path) -> subprocess.Popen:
    proc = subprocess.Popen([PFS, "fuse", str(mountpoint), "--server", url])
    deadline = time.monotonic() + 20
    while not os.path.ismount(mountpoint):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("pfs fuse did not mount")
        time.sleep(0.05)
    return proc


def main() -> int:
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        print("fuse bench skipped: needs root and /dev/fuse")
        return 0
    block = os.urandom(CHUNK)
    with ServerProcess(CONFIG) as server, tempfile.TemporaryDirectory() as tmp:
        client = Client(server.url, timeout=120)
        mnt = Path(tmp) / "mnt"
        mnt.mkdir()
        proc = mount(server.url, mnt)
        try:
            rows = measure(client, mnt, block)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        client.close()
    print_table(
        f"FUSE vs SDK, memfs, {SIZE >> 20} MiB sequential and {SMALL_FILES} x 1 KiB files "
        f"(best of {ROUNDS})",
        ["operation", "FUSE", "SDK (anchor)", "FUSE / SDK"],
        rows,
    )
    return 0


def measure(client: Client, mnt: Path, block: bytes) -> list[list[object]]:
    big = mnt / "memfs/big.bin"

    def fuse_write() -> None:
        with open(big, "wb") as f:
            for _ in range(SIZE // CHUNK):
                f.write(block)

    def fuse_read() -> None:
        with open(big, "rb", buffering=0) as f:
            while f.read(CHUNK):
                pass

    def sdk_write() -> None:
        client.write("/memfs/sdk.bin", (block for _ in range(SIZE // CHUNK)))

    def sdk_read() -> None:
        for _ in client.iter_cat("/memfs/sdk.bin", chunk_size=CHUNK):
            pass

    mib = SIZE / (1 << 20)
    write_fuse, write_sdk = mib / best(fuse_write), mib / best(sdk_write)
    read_fuse, read_sdk = mib / best(fuse_read), mib / best(sdk_read)

    client.mkdir("/memfs/small")
    names = [f"/memfs/small/f{i:04d}" for i in range(SMALL_FILES)]
    for name in names:
        client.write(name, b"s" * SMALL_SIZE)

    def fuse_cat_process() -> None:
        subprocess.run(f"cat {mnt}/memfs/small/* > /dev/null", shell=True, check=True)

    def fuse_open_read() -> None:
        for name in names:
            with open(mnt / name.lstrip("/"), "rb") as f:
                f.read()

    def sdk_cat() -> None:
        for name in names:
            client.cat(name)

    cat_fuse = SMALL_FILES / best(fuse_cat_process)
    open_fuse = SMALL_FILES / best(fuse_open_read)
    cat_sdk = SMALL_FILES / best(sdk_cat)
    return [
        ["sequential write MB/s", f"{write_fuse:.0f}", f"{write_sdk:.0f}",
         f"{write_fuse / write_sdk:.2f}"],
        ["sequential read MB/s", f"{read_fuse:.0f}", f"{read_sdk:.0f}",
         f"{read_fuse / read_sdk:.2f}"],
        ["cat 1 KiB files/s (one `cat`)", f"{cat_fuse:.0f}", f"{cat_sdk:.0f}",
         f"{cat_fuse / cat_sdk:.2f}"],
        ["open+read 1 KiB files/s", f"{open_fuse:.0f}", f"{cat_sdk:.0f}",
         f"{open_fuse / cat_sdk:.2f}"],
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
