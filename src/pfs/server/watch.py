"""``GET /api/v1/watch``: the namespace's change events under a path, as Server-Sent Events.

The watch is registered before the answer starts, and its first event is ``ready``: every change
made after a client saw it is told. Each event's data is JSON: ``type``, ``path``, ``newPath``
(renames), ``outside`` (a change the plugin saw made elsewhere), and ``stat``, the entry as
``/stat`` shows it when the event is sent (left out for removals, or when ``stat=false``).
"""

from __future__ import annotations

import asyncio

import orjson

from pfs.fs.errors import FSError, InvalidArgument, Unavailable
from pfs.fs.events import WATCH_BUFFER, Event, Watcher
from pfs.fs.paths import normalize
from pfs.http.requests import Request
from pfs.http.responses import StreamResponse
from pfs.server.requests import int_param
from pfs.server.state import State

#: Seconds of quiet after which a comment line is sent, so proxies keep the stream open.
KEEPALIVE = 15.0
#: Events sent in one piece when a watcher has a backlog.
BATCH = 256
#: Kinds of event after which there is nothing to stat.
_GONE = {"remove", "unmount", "overflow"}


def _flag(req: Request, name: str, default: bool) -> bool:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("true", "false"):
        raise InvalidArgument(f"invalid {name} parameter: {raw[:40]} (expected true or false)")
    return raw == "true"


async def watch(state: State, req: Request) -> StreamResponse:
    root = normalize(req.query.get("path") or "/")
    recursive = _flag(req, "recursive", False)
    with_stat = _flag(req, "stat", True)
    capacity = int_param(req, "buffer", WATCH_BUFFER, minimum=1)
    if capacity > WATCH_BUFFER:
        raise InvalidArgument(
            f"invalid buffer parameter: {capacity} (at most {WATCH_BUFFER} events a watcher)"
        )
    hub = state.fs.events
    most = state.settings.max_watchers
    if len(hub) >= most:
        raise Unavailable(
            f"too many watchers: {len(hub)} of at most {most} (server.max_watchers) are open"
        )
    watcher = hub.watch(root, recursive, capacity)
    stream = _EventStream(state, watcher, with_stat)
    return StreamResponse(
        stream, b"text/event-stream", headers=[(b"cache-control", b"no-cache")]
    )


class _EventStream:
    """The SSE body of one watcher; closing it (the client left) releases the watcher."""

    def __init__(self, state: State, watcher: Watcher, with_stat: bool) -> None:
        self._state = state
        self._watcher: Watcher | None = watcher
        self._with_stat = with_stat
        self._started = False

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> bytes:
        watcher = self._watcher
        if watcher is None:
            raise StopAsyncIteration
        if not self._started:
            self._started = True
            ready = {"type": "ready", "path": watcher.root, "recursive": watcher.recursive}
            return b"event: ready\ndata: " + orjson.dumps(ready) + b"\n\n"
        try:
            async with asyncio.timeout(KEEPALIVE):
                first = await watcher.next()
        except TimeoutError:
            return b": keepalive\n\n"
        if first is None:  # the server is stopping
            await self.aclose()
            raise StopAsyncIteration
        events = [first, *watcher.drain(BATCH - 1)]
        return b"".join([await self._encode(event) for event in events])

    async def _encode(self, event: Event) -> bytes:
        data: dict[str, object] = {"type": event.kind, "path": event.path}
        if event.new_path is not None:
            data["newPath"] = event.new_path
        if event.outside:
            data["outside"] = True
        if event.kind == "overflow":
            data["message"] = (
                f"events were lost: more than {self._watcher.capacity if self._watcher else 0} "
                "waited for this watcher; list the watched paths again"
            )
        elif self._with_stat and event.kind not in _GONE:
            try:
                info = await self._state.fs.stat(event.new_path or event.path)
            except FSError:
                pass  # gone again already: the event says what happened all the same
            else:
                data["stat"] = info.to_json()
        head = b"event: %s\nid: %d\ndata: " % (event.kind.encode(), event.seq)
        return head + orjson.dumps(data) + b"\n\n"

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._state.fs.events.release(self._watcher)
            self._watcher = None

