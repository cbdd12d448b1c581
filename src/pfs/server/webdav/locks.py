"""WebDAV write locks (RFC 4918 §6-7), kept in memory: exclusive and shared, depth 0 or
infinity, with timeouts. A lock covers its root and, at depth infinity, everything below it;
changing a covered resource (or the membership of a covered collection) needs its token."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from pfs.fs.errors import Unavailable

#: Longest lock a client gets (seconds); ``Timeout: Infinite`` and longer asks get this.
MAX_TIMEOUT = 24 * 3600
#: What a LOCK without a ``Timeout`` header gets.
DEFAULT_TIMEOUT = 3600
#: Locks held at once; more are refused (503) rather than growing memory without bound.
MAX_LOCKS = 10_000


@dataclass
class Lock:
    token: str
    root: str
    exclusive: bool
    infinite: bool
    #: The client's ``<owner>`` element, serialised, echoed back in lock discovery.
    owner: str
    timeout: int
    expires: float

    def covers(self, path: str) -> bool:
        if path == self.root:
            return True
        return self.infinite and _below(path, self.root)

    def remaining(self) -> int:
        return max(math.ceil(self.expires - time.monotonic()), 0)


def _below(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


class LockManager:
    """Locks by token and by root path, so the locks covering a path are found by looking at
    its ancestors (a PROPFIND of a large collection asks once per member), never by scanning
    every lock."""

    def __init__(self) -> None:
        self._locks: dict[str, Lock] = {}
        self._by_root: dict[str, list[Lock]] = {}
        #: The earliest expiry among the locks: expired ones are swept only once it has passed.
        self._next_expiry = math.inf

    def _expire(self) -> None:
        now = time.monotonic()
        if now < self._next_expiry:
            return
        for lock in [lock for lock in self._locks.values() if lock.expires <= now]:
            self._forget(lock)
        self._next_expiry = min((lock.expires for lock in self._locks.values()), default=math.inf)

    def _forget(self, lock: Lock) -> None:
        del self._locks[lock.token]
        held = self._by_root[lock.root]
        held.remove(lock)
        if not held:
            del self._by_root[lock.root]

    def get(self, token: str) -> Lock | None:
        self._expire()
        return self._locks.get(token)

    def covering(self, path: str) -> list[Lock]:
        """Locks whose scope includes ``path``."""
        if not self._locks:
            return []
        self._expire()
        found = list(self._by_root.get(path, ()))
        ancestor = path
        while ancestor != "/":
            ancestor = ancestor.rsplit("/", 1)[0] or "/"
            found.extend(lock for lock in self._by_root.get(ancestor, ()) if lock.infinite)
        return found

    def within(self, path: str) -> list[Lock]:
        """Locks rooted at ``path`` or below it."""
        if not self._locks:
            return []
        self._expire()
        return [
            lock
            for root, held in self._by_root.items()
            if root == path or path == "/" or _below(root, path)
            for lock in held
        ]

    def conflicts(self, path: str, exclusive: bool, infinite: bool) -> list[Lock]:
        """Locks a new one on ``path`` would clash with (any, for an exclusive lock; exclusive
        ones, for a shared lock)."""
        found = {id(lock): lock for lock in self.covering(path)}
        if infinite:
            found.update((id(lock), lock) for lock in self.within(path))
        return [lock for lock in found.values() if exclusive or lock.exclusive]

    def add(self, path: str, exclusive: bool, infinite: bool, owner: str, timeout: int) -> Lock:
        self._expire()
        if len(self._locks) >= MAX_LOCKS:
            raise Unavailable(f"lock: {path}: {MAX_LOCKS} locks are held already (the limit)")
        lock = Lock(
            token=f"opaquelocktoken:{uuid.uuid4()}",
            root=path,
            exclusive=exclusive,
            infinite=infinite,
            owner=owner,
            timeout=timeout,
            expires=time.monotonic() + timeout,
        )
        self._locks[lock.token] = lock
        self._by_root.setdefault(path, []).append(lock)
        self._next_expiry = min(self._next_expiry, lock.expires)
        return lock

    def refresh(self, lock: Lock, timeout: int) -> None:
        lock.timeout = timeout
        lock.expires = time.monotonic() + timeout
        # A shorter timeout may make this the earliest expiry; a longer one is found at the
        # next sweep, which recomputes the earliest.
        self._next_expiry = min(self._next_expiry, lock.expires)

    def remove(self, token: str) -> None:
        lock = self._locks.get(token)
        if lock is not None:
            self._forget(lock)

    def drop_within(self, path: str) -> None:
        """Forget the locks of a subtree that was deleted or moved away."""
        for lock in self.within(path):
            self._forget(lock)


def parse_timeout(header: str | None) -> int:
    """Seconds from a ``Timeout`` header (``Second-N`` or ``Infinite``, first usable one),
    capped at MAX_TIMEOUT."""
    if not header:
        return DEFAULT_TIMEOUT
    for part in header.split(","):
        word = part.strip()
        if word.lower() == "infinite":
            return MAX_TIMEOUT
        if word.lower().startswith("second-") and word[7:].isdigit():
            return max(1, min(int(word[7:]), MAX_TIMEOUT))
    return DEFAULT_TIMEOUT
