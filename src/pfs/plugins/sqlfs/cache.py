"""The sqlfs metadata cache: stat rows and directory listings, LRU with a time to live.

Every change made through this server invalidates what it touched *after* committing, and a
version counter keeps a read that began before the change from storing its (older) answer
afterwards, so this server never serves metadata older than its own last write. Changes made by
another server on the same database show up within ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from pfs.fs.paths import split_parent


class MetaCache:
    def __init__(self, max_size: int, ttl: float, enabled: bool = True) -> None:
        self.max_size = max(int(max_size), 0)
        self.ttl = float(ttl)
        self.enabled = enabled and self.max_size > 0 and self.ttl > 0
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self.version = 0

    def get(self, kind: str, path: str) -> Any | None:
        if not self.enabled:
            return None
        key = (kind, path)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if time.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, kind: str, path: str, value: Any, version: int) -> None:
        """Store ``value`` read when the cache was at ``version`` (dropped if anything changed)."""
        if not self.enabled or version != self.version:
            return
        self._entries[(kind, path)] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end((kind, path))
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def changed(self, path: str, subtree: bool = False) -> None:
        """Forget ``path``, its parent's listing and, with ``subtree``, everything below it."""
        self.version += 1
        if not self._entries:
            return
        parent, _ = split_parent(path)
        for kind in ("stat", "list"):
            self._entries.pop((kind, path), None)
        self._entries.pop(("list", parent), None)
        if subtree:
            below = path.rstrip("/") + "/"
            for key in [k for k in self._entries if k[1].startswith(below)]:
                del self._entries[key]

    def clear(self) -> None:
        self.version += 1
        self._entries.clear()
