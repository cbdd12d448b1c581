"""s3fs's stat and listing cache (AGFS's ``cache_*`` keys): answers kept for a time-to-live, at
most so many of them (least recently used dropped first), forgotten as soon as this server
changes what they describe. Changes made by others reach this server when the TTL ends.

A change bumps a generation counter; an answer is stored only if no change happened while it
was fetched, so a stat racing a write never puts the old state back after the write dropped it.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from typing import Generic, TypeVar

from pfs.fs import FileInfo

V = TypeVar("V")


class _TTLCache(Generic[V]):
    def __init__(self, ttl: float, max_size: int) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def drop_below(self, path: str) -> None:
        """Forget every entry strictly below directory ``path``."""
        prefix = path.rstrip("/") + "/"
        for key in [key for key in self._entries if key.startswith(prefix)]:
            del self._entries[key]


class MetadataCache:
    """Stat answers (``stat_ttl``, up to 5 × ``max_size``, as AGFS) and directory listings
    (``listing_ttl``, up to ``max_size``) by mount-relative path. Callers get copies: the mount
    table renames entries it hands on."""

    def __init__(self, enabled: bool, listing_ttl: float, stat_ttl: float, max_size: int) -> None:
        self.enabled = enabled and max_size > 0
        self._stats: _TTLCache[FileInfo] = _TTLCache(stat_ttl, 5 * max_size)
        self._listings: _TTLCache[list[FileInfo]] = _TTLCache(listing_ttl, max_size)
        #: Bumped by every change; see the module docstring.
        self.generation = 0

    def stat(self, path: str) -> FileInfo | None:
        info = self._stats.get(path) if self.enabled else None
        return None if info is None else copy.copy(info)

    def listing(self, path: str) -> list[FileInfo] | None:
        entries = self._listings.get(path) if self.enabled else None
        return None if entries is None else [copy.copy(entry) for entry in entries]

    def keep_stat(self, path: str, info: FileInfo, generation: int) -> None:
        if self.enabled and generation == self.generation:
            self._stats.put(path, copy.copy(info))

    def keep_listing(self, path: str, entries: list[FileInfo], generation: int) -> None:
        if self.enabled and generation == self.generation:
            self._listings.put(path, [copy.copy(entry) for entry in entries])

    def changed(self, path: str, *, subtree: bool = False) -> None:
        """This server changed ``path`` (and, with ``subtree``, what is below it): forget it, its
        ancestors (their listings, and whether they exist) and, with ``subtree``, everything
        below."""
        self.generation += 1
        if not self.enabled:
            return
        node = path
        while True:
            self._stats.drop(node)
            self._listings.drop(node)
            if node == "/":
                break
            node = node.rsplit("/", 1)[0] or "/"
        if subtree:
            self._stats.drop_below(path)
            self._listings.drop_below(path)
