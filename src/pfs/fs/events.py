"""Change events of the namespace (``GET /api/v1/watch``): the mount table publishes one for
every change made through the server, plugins one for each change they learn of from outside.

Each watcher has a bounded buffer. One that falls behind loses the events that do not fit and
gets a single ``overflow`` event in their place (then whatever comes after it): the client
should list what it watches again. Memory per watcher stays at ``capacity`` events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass

#: Events one watcher may hold undelivered before it overflows.
WATCH_BUFFER = 10_000
#: Default of ``server.max_watchers``: watches open at once on one server.
MAX_WATCHERS = 1024


@dataclass(frozen=True, slots=True)
class Event:
    """``kind``: create, write, remove, rename, mkdir, chmod, touch, truncate, symlink, mount,
    unmount (``overflow`` for a watcher that fell behind). ``path`` is the namespace path;
    ``new_path`` the target of a rename. ``outside``: the plugin saw a change not made through
    this server. ``seq`` numbers the events of one server in the order they were published."""

    kind: str
    path: str
    new_path: str | None = None
    outside: bool = False
    seq: int = 0


def _covers(root: str, recursive: bool, path: str) -> bool:
    """Whether a watch of ``root`` is told about ``path``: the root itself and its direct
    children, every descendant when ``recursive``."""
    if path == root:
        return True
    prefix = "/" if root == "/" else root + "/"
    if not path.startswith(prefix):
        return False
    return recursive or "/" not in path[len(prefix) :]


class Watcher:
    """One client's watch: the events under ``root`` waiting to be sent, at most ``capacity``."""

    def __init__(self, root: str, recursive: bool, capacity: int = WATCH_BUFFER) -> None:
        self.root = root
        self.recursive = recursive
        self.capacity = capacity
        self._queue: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._dropped = 0
        #: Events lost to overflows so far.
        self.dropped_total = 0

    def wants(self, event: Event) -> bool:
        return _covers(self.root, self.recursive, event.path) or (
            event.new_path is not None and _covers(self.root, self.recursive, event.new_path)
        )

    def offer(self, event: Event) -> None:
        if len(self._queue) >= self.capacity:
            # Full: whatever is queued stays, this event is lost and counted; the client learns
            # of the gap as one overflow event at the place where events went missing.
            self._dropped += 1
            self.dropped_total += 1
            return
        if self._dropped:
            self._queue.append(Event("overflow", self.root))
            self._dropped = 0
        self._queue.append(event)
        self._ready.set()

    async def next(self) -> Event:
        """The next event, waiting for one."""
        while not self._queue:
            if self._dropped:  # the overflow is the last thing to tell
                self._dropped = 0
                return Event("overflow", self.root)
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def drain(self, limit: int) -> list[Event]:
        """Up to ``limit`` events already waiting, without waiting for more."""
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]


class EventHub:
    """Hands each published event to the watchers whose paths it concerns."""

    def __init__(self) -> None:
        self._watchers: list[Watcher] = []
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._watchers)

    def publish(
        self, kind: str, path: str, new_path: str | None = None, outside: bool = False
    ) -> None:
        if not self._watchers:  # the common case costs one check
            return
        event = Event(kind, path, new_path, outside, next(self._seq))
        for watcher in self._watchers:
            if watcher.wants(event):
                watcher.offer(event)

    def watch(self, root: str, recursive: bool, capacity: int = WATCH_BUFFER) -> Watcher:
        watcher = Watcher(root, recursive, capacity)
        self._watchers = [*self._watchers, watcher]
        return watcher

    def release(self, watcher: Watcher) -> None:
        self._watchers = [w for w in self._watchers if w is not watcher]

    def watching(self, path: str) -> bool:
        """Whether any watcher would be told about ``path`` (plugins that must do work to learn
        of outside changes look first)."""
        return any(
            _covers(w.root, w.recursive, path) or _covers(path, True, w.root)
            for w in self._watchers
        )
