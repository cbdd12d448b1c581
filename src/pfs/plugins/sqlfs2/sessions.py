"""sqlfs2 sessions: an id bound to the scope it was made in, and the last result or error.

Each ``query``/``data`` write runs in its own transaction, committed when it succeeds (AGFS
keeps one transaction per session and never commits it, so its writes are lost), so a session
holds no connection: only its two texts. Ids count from 1 per mount and are never reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pfs.fs import NotFound, Unavailable

Scope = tuple[str | None, str | None]


@dataclass
class Session:
    id: int
    scope: Scope
    created_ns: int = field(default_factory=time.time_ns)
    used: float = field(default_factory=time.monotonic)
    result: bytes = b""
    error: bytes = b""
    changed_ns: int = field(default_factory=time.time_ns)

    def succeeded(self, result: bytes) -> None:
        self.result, self.error = result, b""
        self.changed_ns = time.time_ns()

    def failed(self, message: str) -> None:
        self.result, self.error = b"", message.encode() + b"\n"
        self.changed_ns = time.time_ns()


class Sessions:
    def __init__(self, limit: int, idle_timeout: float) -> None:
        self.limit = limit
        self.idle_timeout = idle_timeout
        self.by_id: dict[int, Session] = {}
        self._last_id = 0

    def open(self, scope: Scope) -> Session:
        if len(self.by_id) >= self.limit:
            self.sweep()  # idle ones the periodic sweep has not reached yet make room
        if len(self.by_id) >= self.limit:
            raise Unavailable(
                f"too many sessions (max_sessions={self.limit}): close one by writing "
                "'close' to its ctl"
            )
        self._last_id += 1
        session = self.by_id[self._last_id] = Session(self._last_id, scope)
        return session

    def get(self, sid: int, scope: Scope) -> Session:
        """The session ``sid`` of ``scope`` (a session answers only in its own scope)."""
        session = self.by_id.get(sid)
        if session is None or session.scope != scope or self._idle(session):
            raise NotFound(f"session not found: {sid}")
        session.used = time.monotonic()
        return session

    def in_scope(self, scope: Scope) -> list[Session]:
        return [s for s in self.by_id.values() if s.scope == scope and not self._idle(s)]

    def close(self, sid: int) -> None:
        self.by_id.pop(sid, None)

    def sweep(self) -> None:
        for sid in [sid for sid, s in self.by_id.items() if self._idle(s)]:
            del self.by_id[sid]

    def _idle(self, session: Session) -> bool:
        return bool(self.idle_timeout) and time.monotonic() - session.used >= self.idle_timeout
