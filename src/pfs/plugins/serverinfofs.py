"""serverinfofs: read-only files describing the running server."""

from __future__ import annotations

import json
import os
import platform
import resource
import threading
import time

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

_FILES = ("README", "server_info", "uptime", "version", "stats")


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


class ServerInfoFS(FileSystem):
    fstype = "serverinfofs"
    config_schema = (Field("version", "string", default="1.0.0", help="version string shown"),)

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.version: str = config["version"]
        self.started_ns = time.time_ns()
        self.readme = self.load_readme("pfs.plugins.docs", "serverinfofs.md").encode()

    def _content(self, name: str) -> bytes:
        if name == "README":
            return self.readme
        uptime = format_duration(time.time_ns() - self.started_ns)
        if name == "version":
            text = self.version
        elif name == "uptime":
            text = uptime
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
