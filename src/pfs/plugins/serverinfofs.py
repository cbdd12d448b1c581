"""serverinfofs: read-only files describing the running server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import threading
import time

from pfs import __version__
from pfs.fs import (
    Field,
    FileInfo,
    FileSystem,
    IsADirectory,
    Meta,
    NotADirectory,
    NotFound,
    ReadOnly,
    read_range,
)
from pfs.fs.base import truncate_as_no_op
from pfs.fs.gotime import format_duration, format_rfc3339
from pfs.fs.traffic import Traffic

_FILES = ("README", "server_info", "uptime", "version", "stats", "traffic")
#: How often the traffic rates are sampled (they are bytes per second over the last sample).
SAMPLE_SECONDS = 1.0


def _memory() -> dict[str, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = 0
    try:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        rss = usage.ru_maxrss * 1024
    import gc

    return {
        "alloc": rss,
        "numGC": sum(s["collections"] for s in gc.get_stats()),
        "sys": usage.ru_maxrss * 1024,
        "totalAlloc": rss,
    }


class _Rates:
    """Bytes per second sent and received over the last sample, and the highest seen."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self._last = (time.monotonic(), traffic.sent, traffic.received)
        self.down = self.up = self.peak_down = self.peak_up = 0

    def sample(self) -> None:
        now, sent, received = time.monotonic(), self.traffic.sent, self.traffic.received
        then, sent_before, received_before = self._last
        elapsed = max(now - then, 1e-3)
        self.down = int((sent - sent_before) / elapsed)
        self.up = int((received - received_before) / elapsed)
        self.peak_down = max(self.peak_down, self.down)
        self.peak_up = max(self.peak_up, self.up)
        self._last = (now, sent, received)

    def report(self) -> str:
        traffic = self.traffic
        return json.dumps(
            {
                "downstream_bps": self.down,
                "upstream_bps": self.up,
                "peak_downstream_bps": self.peak_down,
                "peak_upstream_bps": self.peak_up,
                "total_download_bytes": traffic.sent,
                "total_upload_bytes": traffic.received,
                "uptime_seconds": (time.time_ns() - traffic.started_ns) // 1_000_000_000,
            },
            indent=2,
        )


class ServerInfoFS(FileSystem):
    fstype = "serverinfofs"
    config_schema = (
        Field("version", "string", default=__version__, help="version string shown"),
    )

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.version: str = config["version"]
        self.started_ns = time.time_ns()
        self.readme = self.load_readme("pfs.plugins.docs", "serverinfofs.md").encode()
        self._rates: _Rates | None = None
        self._sampler: asyncio.Task[None] | None = None

    async def start(self) -> None:
        traffic = self.context.traffic if self.context is not None else None
        if traffic is not None:
            self._rates = _Rates(traffic)
            self._sampler = asyncio.create_task(self._sample(self._rates))

    async def _sample(self, rates: _Rates) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            rates.sample()

    async def shutdown(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    def _content(self, name: str) -> bytes:
        if name == "README":
            return self.readme
        uptime = format_duration(time.time_ns() - self.started_ns)
        if name == "version":
            text = self.version
        elif name == "uptime":
            text = uptime
        elif name == "traffic":
            text = self._rates.report() if self._rates else "Traffic monitoring not available"
        elif name == "server_info":
            text = json.dumps(
                {
                    "goVersion": f"python{platform.python_version()}",
                    "memory": _memory(),
                    "numCPU": os.cpu_count() or 1,
                    "numGoroutine": threading.active_count(),
                    "startTime": format_rfc3339(self.started_ns / 1e9),
                    "uptime": uptime,
                    "version": self.version,
                },
                indent=2,
                sort_keys=True,
            )
        else:
            text = json.dumps(
                {"goroutines": threading.active_count(), "memory": _memory()},
                indent=2,
                sort_keys=True,
            )
        return (text if text.endswith("\n") else text + "\n").encode()

    def _info(self, name: str) -> FileInfo:
        if name == "README":
            return self.readme_info()
        return FileInfo(name, len(self._content(name)), 0o444, meta=Meta("serverinfofs", "info"))

    async def stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o555, is_dir=True, meta=Meta("serverinfofs", ""))
        if path[1:] not in _FILES:
            raise NotFound(f"no such file or directory: {path}")
        return self._info(path[1:])

    async def readdir(self, path: str) -> list[FileInfo]:
        if path != "/":
            if path[1:] in _FILES:
                raise NotADirectory(f"not a directory: {path}")
            raise NotFound(f"no such file or directory: {path}")
        return [self._info(name) for name in _FILES]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == "/":
            raise IsADirectory(f"is a directory: {path}")
        if path[1:] not in _FILES:
            raise NotFound(f"no such file or directory: {path}")
        return read_range(self._content(path[1:]), offset, size)

    async def _read_only(self, *args: object, **kwargs: object) -> None:
        raise ReadOnly("operation not permitted: serverinfofs is read-only")

    create = mkdir = remove = write = rename = chmod = _read_only  # type: ignore[assignment]
    truncate = truncate_as_no_op
