"""Change events of the namespace (``GET /api/v1/watch``): the mount table publishes one for
every change made through the server, plugins one for each change they learn of from outside.

Each watcher has a bounded buffer. One that falls behind loses the events that do not fit and
gets a single ``overflow`` event in their place (then whatever comes after it): the client
should list what it watches again. Memory per watcher stays at ``capacity`` events.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Events one watcher may hold undelivered before it overflows.
WATCH_BUFFER = 10_000
#: Default of ``server.max_watchers``: watches open at once on one server.
MAX_WATCHERS = 1024
#: A plugin's report of an outside change to a path this server changed less than this many
#: seconds before is taken for the echo of that change and dropped (it was told already).
ECHO_SECONDS = 1.0
#: How long a plugin waits before it tells of an outside change, so that the server's own change
#: causing it (told by the mount table once the plugin call returns) is known by then.
ECHO_SETTLE = 0.1


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
        self._closed = False
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

    async def next(self) -> Event | None:
        """The next event, waiting for one; None once the watch is closed and all is told."""
        while not self._queue:
            if self._dropped:  # the overflow is the last thing to tell
                self._dropped = 0
                return Event("overflow", self.root)
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def close(self) -> None:
        """The server is stopping: what is queued is still told, then the watch ends."""
        self._closed = True
        self._ready.set()

    def drain(self, limit: int) -> list[Event]:
        """Up to ``limit`` events already waiting, without waiting for more."""
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]


class EventHub:
    """Hands each published event to the watchers whose paths it concerns."""

    def __init__(self) -> None:
        self._watchers: list[Watcher] = []
        self._seq = itertools.count(1)
        #: Plugins that learn of outside changes, by mount path: told whether anyone watches
        #: there (they look only then), and what they were last told.
        self._sources: dict[str, tuple[Callable[[bool], None], bool]] = {}
        #: When this server last changed each path (while anyone watches), for echo detection.
        self._changed: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._watchers)

    def publish(
        self, kind: str, path: str, new_path: str | None = None, outside: bool = False
    ) -> None:
        if not self._watchers:  # the common case costs one check
            return
        if self._echo(path, new_path, outside):
            return
        event = Event(kind, path, new_path, outside, next(self._seq))
        for watcher in self._watchers:
            if watcher.wants(event):
                watcher.offer(event)

    def _echo(self, path: str, new_path: str | None, outside: bool) -> bool:
        now = time.monotonic()
        changed = self._changed
        if outside:
            return now - changed.get(path, -ECHO_SECONDS) < ECHO_SECONDS
        if len(changed) > WATCH_BUFFER:  # keep only the recent ones: bounded
            self._changed = changed = {p: t for p, t in changed.items() if now - t < ECHO_SECONDS}
        changed[path] = now
        if new_path is not None:
            changed[new_path] = now
        return False

    def watch(self, root: str, recursive: bool, capacity: int = WATCH_BUFFER) -> Watcher:
        watcher = Watcher(root, recursive, capacity)
        self._watchers = [*self._watchers, watcher]
        self._tell_sources()
        return watcher

    def release(self, watcher: Watcher) -> None:
        self._watchers = [w for w in self._watchers if w is not watcher]
        if not self._watchers:
            self._changed.clear()
        self._tell_sources()

    def close(self) -> None:
        """End every watch (the server is stopping: open watches would hold its stop)."""
        for watcher in self._watchers:
            watcher.close()

    def add_source(self, root: str, watched: Callable[[bool], None]) -> None:
        """A plugin at ``root`` that can report outside changes: ``watched(True)`` when a watch
        covering it starts (report from then on), ``watched(False)`` when the last one ends."""
        self._sources[root] = (watched, False)
        self._tell_sources()

    def remove_source(self, root: str) -> None:
        self._sources.pop(root, None)

    def _tell_sources(self) -> None:
        for root, (watched, told) in list(self._sources.items()):
            wanted = self.watching(root)
            if wanted != told:
                self._sources[root] = (watched, wanted)
                watched(wanted)

    def watching(self, path: str) -> bool:
        """Whether any watcher would be told about ``path`` (plugins that must do work to learn
        of outside changes look first)."""
        return any(
            _covers(w.root, w.recursive, path) or _covers(path, True, w.root)
            for w in self._watchers
        )
