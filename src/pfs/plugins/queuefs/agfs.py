"""AGFS's SQL layout for queues, shared by its SQLite and MySQL back ends (AGFS.md §5.1).

A registry table maps each queue name to a table of its own. A row holds the whole message as
AGFS's JSON (``{"id": "<UUIDv7>", "data": "<body>", "timestamp": "<RFC 3339>"}``) in ``data``,
the enqueue time in Unix seconds, and a soft-delete mark: a dequeue sets ``deleted = 1`` and
only rows with ``deleted = 0`` are live. ``clear`` removes a queue's rows outright; removing a
queue drops its table and its registry row.

Where AGFS is careless this layout is not: a table is always found through the registry (AGFS
derives a table name by replacing ``/``, ``-`` and ``.`` with ``_``, so ``a/b`` and ``a-b``
would share one), names are quoted in SQL, and a new queue whose derived name is taken, holds
other punctuation or is longer than MySQL allows gets a distinct name of safe characters.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterable

import orjson

from pfs.fs.errors import NotSupported
from pfs.fs.gotime import format_rfc3339nano
from pfs.plugins.queuefs.backend import Message

REGISTRY = "queuefs_registry"
TABLE_PREFIX = "queuefs_queue_"
#: MySQL's longest identifier; SQLite has no limit, the same rule keeps one database portable.
MAX_TABLE_CHARS = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
#: The oldest live message of a queue's table (``{table}`` quoted by the back end).
FIRST_LIVE = (
    "SELECT id, message_id, data, timestamp FROM {table} WHERE deleted = 0 ORDER BY id LIMIT 1"
)


def table_name(queue: str, taken: Iterable[str]) -> str:
    """The table a new queue gets: AGFS's name when it is safe and free, else one made unique
    with a hash of the queue name."""
    agfs_name = TABLE_PREFIX + re.sub(r"[/.-]", "_", queue)
    taken = set(taken)
    fits = len(agfs_name) <= MAX_TABLE_CHARS
    if fits and not _UNSAFE.search(agfs_name) and agfs_name not in taken:
        return agfs_name
    safe = TABLE_PREFIX + _UNSAFE.sub("_", queue)
    digest = hashlib.sha256(queue.encode()).hexdigest()
    name = f"{safe[: MAX_TABLE_CHARS - 13]}_{digest[:12]}"
    counter = 1
    while name in taken:  # two queue names of the same hash prefix: vanishingly rare
        counter += 1
        name = f"{safe[: MAX_TABLE_CHARS - 17]}_{digest[:12]}_{counter:03d}"
    return name


def uuid7() -> str:
    """A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, then random bits), AGFS's message id."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def new_message(body: bytes) -> tuple[Message, bytes]:
    """A message for ``body`` and the JSON AGFS stores for it (invalid UTF-8 becomes U+FFFD, as
    Go's encoder does with a string)."""
    now = time.time_ns()
    message = Message(uuid7(), body, now, format_rfc3339nano(now))
    stored = orjson.dumps(
        {
            "id": message.id,
            "data": body.decode("utf-8", errors="replace"),
            "timestamp": message.timestamp,
        }
    )
    return message, stored


def stored_message(message_id: str | bytes, data: str | bytes, seconds: int) -> Message:
    """The message of one row. A ``data`` that is not AGFS's JSON (written by some other tool)
    is taken as the body itself, with the row's ``message_id``."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    row_id = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
    enqueued_ns = int(seconds) * 1_000_000_000
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), str):
        stamp = parsed.get("timestamp")
        return Message(
            str(parsed.get("id") or row_id),
            parsed["data"].encode(),
            enqueued_ns,
            stamp if isinstance(stamp, str) and stamp else None,
        )
    return Message(row_id, raw, enqueued_ns)


def no_in_flight_state() -> NotSupported:
    return NotSupported(
        "AGFS's queue layout keeps no in-flight state: visibility timeouts and ack need layout: pfs"
    )
