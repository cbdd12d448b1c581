"""Re-entrant guest calls: a host function that waits for a namespace operation serves, on its
own thread, the guest calls that operation makes into instances this thread already holds (the
plugin's own mount, or a cycle of plugins), so they never deadlock on the instance's lock or wait
for a pool that this very call keeps busy."""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pfs.fs.errors import FSError

if TYPE_CHECKING:
    from pfs.external.wasm.instance import Instance

#: In a coroutine started by a host function: instance → queue of the thread that holds it.
held_by: contextvars.ContextVar[dict[Instance, queue.SimpleQueue] | None] = (
    contextvars.ContextVar("pfs_wasm_held_by", default=None)
)
_frames = threading.local()


@dataclass(frozen=True)
class Grants:
    """What the calling mount lets its guest reach through host functions."""

    #: Namespace prefixes for ``host_fs_*`` (mount config ``host_paths``).
    host_paths: tuple[str, ...] = ()
    #: Hosts (``name`` or ``name:port``) for ``host_http_request`` (``http_allowed_hosts``).
    http_hosts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.host_paths or self.http_hosts)


NO_GRANTS = Grants()


class Frame:
    """One guest call in progress on this thread. Its queue of re-entrant calls, and the map of
    held instances that names it, are made the first time a host function waits (most calls
    never do)."""

    __slots__ = ("instance", "grants", "_outer", "_held", "_jobs")

    def __init__(
        self, instance: Instance, grants: Grants, outer: dict[Instance, queue.SimpleQueue]
    ) -> None:
        self.instance = instance
        self.grants = grants
        self._outer = outer
        self._held: dict[Instance, queue.SimpleQueue] | None = None
        self._jobs: queue.SimpleQueue | None = None

    @property
    def jobs(self) -> queue.SimpleQueue:
        """Re-entrant calls into this frame's instance, served while its thread waits."""
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
        return self._jobs

    @property
    def held(self) -> dict[Instance, queue.SimpleQueue]:
        """The instances held up the call chain, this one included, each with its queue."""
        if self._held is None:
            self._held = {**self._outer, self.instance: self.jobs}
        return self._held


def stack() -> list[Frame]:
    """This thread's guest calls in progress, innermost last."""
    frames = getattr(_frames, "stack", None)
    if frames is None:
        frames = _frames.stack = []
    return frames


@dataclass(slots=True)
class Job:
    """A guest call requested by a coroutine, to run on an instance's thread; ``work`` gets the
    instance and the store handle."""

    instance: Instance
    work: Callable[[Instance, Any], Any]
    grants: Grants
    done: asyncio.Future
    loop: asyncio.AbstractEventLoop
    held: dict[Instance, queue.SimpleQueue] | None = None


def settle_all(finished: list[tuple[Job, Any, BaseException | None]]) -> None:
    """Hand finished calls' results to their awaiting coroutines: one loop wake-up for all."""
    if not finished:
        return
    loop = finished[0][0].loop

    def apply() -> None:
        for job, result, error in finished:
            if job.done.done():
                continue
            if error is not None:
                job.done.set_exception(error)
            else:
                job.done.set_result(result)

    loop.call_soon_threadsafe(apply)


def wait_serving(
    coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop, timeout: float
) -> Any:
    """Run a namespace operation on the event loop; meanwhile serve re-entrant guest calls."""
    frame = stack()[-1]
    token = held_by.set(frame.held)
    try:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
    finally:
        held_by.reset(token)
    jobs = frame.jobs
    future.add_done_callback(lambda _: jobs.put(None))
    deadline = time.monotonic() + timeout
    while not future.done():
        try:
            job = jobs.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            future.cancel()
            raise FSError("host call timed out") from None
        if job is None:
            continue
        try:
            settle_all([(job, job.instance.run_guest(job.work, job.grants), None)])
        except BaseException as exc:
            settle_all([(job, None, exc)])
    return future.result()
