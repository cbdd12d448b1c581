"""A small time-bounded, size-capped cache for attributes and directory listings.

The kernel caches entries and attributes for ``entry_timeout``/``attr_timeout`` seconds; this
cache sits behind it so a burst of ``lookup``/``getattr`` calls (``ls -l``, ``find``) becomes one
listing request, while anything older than ``ttl`` is asked again (other clients change the tree).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """Mapping of path → value where entries expire after ``ttl`` seconds; LRU beyond ``cap``."""

    def __init__(self, ttl: float, cap: int) -> None:
        self.ttl = ttl
        self.cap = cap
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        self._items[key] = (time.monotonic() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.cap:
            self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def drop_tree(self, prefix: str) -> None:
        """Forget ``prefix`` and everything below it (after rm -r or a rename)."""
        below = prefix.rstrip("/") + "/"
        for key in [k for k in self._items if k == prefix or k.startswith(below)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
