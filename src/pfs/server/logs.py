"""The server's logs: one format for ours and Granian's (text or JSON lines) and the access log,
one line per request (``pfs.access``: client, method, target, status, bytes sent, duration).

Levels: a request answered 4xx is logged at debug, a 5xx with its traceback at error (app.py).
The JSON access fields: client, method, target, status, bytes, ms.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import IO, Any

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")

access_logger = logging.getLogger("pfs.access")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class DropGranianNoise(logging.Filter):
    """Granian reports every client that leaves before its answer is sent ("ASGI transport
    error: SendError { .. }"); that is the client's choice, not the server's trouble."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("ASGI transport error")


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` tree for our loggers and Granian's, one format for all."""
    level = {"warn": "WARNING"}.get(level, level).upper()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"()": "logging.Formatter", "fmt": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "pfs", "stream": "ext://sys.stderr",
               "filters": ["granian_noise"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"granian_noise": {"()": f"{__name__}.DropGranianNoise"}},
        "formatters": {"pfs": formatter},
        "handlers": {"pfs": handler},
        "root": {"handlers": ["pfs"], "level": level},
        "loggers": {
            "_granian": {"handlers": ["pfs"], "level": level, "propagate": False},
            "granian.access": {"handlers": ["pfs"], "level": level, "propagate": False},
        },
    }


class AccessLog:
    """One line per request, written by the app as each request ends: the status and the body
    bytes its answer sent (status ``-`` when the client left before an answer).

    The lines bypass ``logging`` (a LogRecord, its formatting and a flushed write per request
    cost more than the request itself on small reads) but keep its format: they are collected
    and written together once per ``FLUSH_AFTER`` seconds. The app records them itself rather
    than through a wrapping ASGI app counting every ``send``: that wrapper cost 1.9 µs of the
    9.7 µs the app spent on a 1 KiB read."""

    FLUSH_AFTER = 0.05
    #: Lines held at most while the log's reader is slow; beyond, lines are counted, not kept.
    MAX_PENDING = 100_000

    def __init__(self, log_format: str = "text", stream: IO[str] | None = None) -> None:
        self.json = log_format == "json"
        self.stream = stream
        self._pending: list[str] = []
        self._dropped = 0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    @staticmethod
    def wanted(logger: logging.Logger = access_logger) -> bool:
        """Whether access lines are logged at all (``pfs.access`` enabled for info)."""
        return logger.isEnabledFor(logging.INFO)

    def _timestamp(self) -> tuple[str, float]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return self._stamp, now

    def record(self, scope: dict[str, Any], status: int, sent: int, seconds: float) -> None:
        """The line of one request that ended after ``seconds``."""
        ms = seconds * 1000
        query = scope.get("query_string") or b""
        target = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        client = scope.get("client")
        peer = client[0] if client else "-"
        method = scope["method"]
        shown = str(status) if status else "-"
        stamp, now = self._timestamp()
        millis = int(now * 1000) % 1000
        message = f'{peer} "{method} {target}" {shown} {sent} {ms:.1f}ms'
        if self.json:
            line = orjson.dumps({
                "time": f"{stamp.replace(' ', 'T')}.{millis:03d}", "level": "INFO",
                "logger": "pfs.access", "message": message, "client": peer, "method": method,
                "target": target, "status": status or None, "bytes": sent, "ms": round(ms, 3),
            }).decode() + "\n"
        else:
            line = f"{stamp},{millis:03d} INFO pfs.access: {message}\n"
        if len(self._pending) >= self.MAX_PENDING:
            self._dropped += 1
            return
        self._pending.append(line)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(
                self.FLUSH_AFTER, self.flush
            )

    def flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._dropped:
            stamp = self._timestamp()[0]
            message = f"{self._dropped} access lines dropped (log reader too slow)"
            self._pending.append(
                orjson.dumps({"time": stamp.replace(" ", "T") + ".000", "level": "WARNING",
                              "logger": "pfs.access", "message": message}).decode() + "\n"
                if self.json
                else f"{stamp},000 WARNING pfs.access: {message}\n"
            )
            self._dropped = 0
        if not self._pending:
            return
        data = "".join(self._pending)
        self._pending.clear()
        stream = self.stream or sys.stderr
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):  # stderr closed: the lines have nowhere to go
            pass
