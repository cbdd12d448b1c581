"""Blocking ``dequeue`` and ``peek`` (``?wait=N``): a consumer waits for a message instead of
polling.

A waiter is woken by an enqueue through this mount at once (in process, every backend), by the
backend's own signal where it has one (PostgreSQL's NOTIFY from any server), and otherwise
tries again every ``poll`` seconds (messages other servers added to a shared SQLite or MySQL
database, in-flight messages whose visibility ended). A message is taken only while its client
still waits; one taken as the client left is put back where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pfs.plugins.queuefs.backend import Message, QueueBackend

log = logging.getLogger("pfs.plugins.queuefs")


class Wakeups:
    """The consumers waiting on each queue of one mount, woken by enqueues through it."""

    def __init__(self) -> None:
        self._tickets: dict[str, list[asyncio.Future[None]]] = {}
        self.closing = False

    def ticket(self, name: str) -> asyncio.Future[None]:
        """A future done at the next enqueue to ``name`` (taken before looking, so an enqueue
        between the look and the wait is not missed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tickets.setdefault(name, []).append(future)
        return future

    def drop(self, name: str, future: asyncio.Future[None]) -> None:
        tickets = self._tickets.get(name)
        if tickets is not None:
            with contextlib.suppress(ValueError):
                tickets.remove(future)
            if not tickets:
                del self._tickets[name]

    def notify(self, name: str) -> None:
        for future in self._tickets.pop(name, ()):
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """The mount is going: every waiter answers now (``{}``)."""
        self.closing = True
        for name in list(self._tickets):
            self.notify(name)


async def wait_for_message(
    backend: QueueBackend,
    wakeups: Wakeups,
    name: str,
    look: Callable[[], Awaitable[Message | None]],
    seconds: float,
    poll: float,
    gone: asyncio.Event,
    takes: bool,
) -> Message | None:
    """The first message ``look`` finds within ``seconds`` (None: none came, or the client is
    ``gone``). ``takes``: ``look`` consumes the message (dequeue), so one found after the
    client left goes back."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not gone.is_set():
        ticket = wakeups.ticket(name)
        try:
            message = await _look(backend, name, look, takes)
            if message is not None:
                if takes and gone.is_set():
                    await backend.put_back(name, message)
                    return None
                return message
            remaining = deadline - loop.time()
            if remaining <= 0 or wakeups.closing:
                return None
            await _first(ticket, backend.wait_ready(name, min(remaining, poll)), gone)
        finally:
            wakeups.drop(name, ticket)
    return None


async def _look(
    backend: QueueBackend,
    name: str,
    look: Callable[[], Awaitable[Message | None]],
    takes: bool,
) -> Message | None:
    """``look()`` run to its end even when the waiter is cancelled meanwhile: a message it took
    then goes back instead of being lost with the request."""
    task = asyncio.ensure_future(look())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if takes:
            task.add_done_callback(lambda done: _put_back_later(backend, name, done))
        raise


def _put_back_later(backend: QueueBackend, name: str, done: asyncio.Future) -> None:
    if done.cancelled() or done.exception() is not None or done.result() is None:
        return
    task = asyncio.ensure_future(backend.put_back(name, done.result()))
    _pending.add(task)
    task.add_done_callback(_settled)


def _settled(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("queuefs: putting back a message whose client left failed: %s", task.exception())


#: Put-backs in progress (kept referenced until they finish).
_pending: set[asyncio.Task] = set()


async def _first(ticket: asyncio.Future[None], ready: Awaitable[None], gone: asyncio.Event) -> None:
    """Wait until an enqueue here (``ticket``), the backend's signal or poll (``ready``), or
    the client leaving (``gone``), whichever comes first."""
    waits = [asyncio.ensure_future(ready), asyncio.ensure_future(gone.wait())]
    try:
        await asyncio.wait([ticket, *waits], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        for waiting in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
