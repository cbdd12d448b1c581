"""The instance pool of a mounted WASM plugin (AGFS.md §7.5, careful impl).

Up to ``pool_size`` instances of the module serve calls at once, each on its own thread. A call
queues behind a busy instance whose queue is expected to be done within ``QUICK_QUEUE`` (its
thread is awake and runs them back to back, so a burst of short calls shares one thread hop:
waking another thread for a call of a few microseconds costs more than waiting for it); else
takes an instance with nothing in flight, else makes one while below the limit, else queues
behind the least busy instance (up to ``MAX_QUEUED`` calls each), else waits up to
``acquire_timeout`` (then 503 naming the limit). A handle pins an instance to itself. An
instance is used up after ``max_requests`` acquisitions or ``max_lifetime`` seconds: it takes no
more calls and, once idle, is replaced (its ``plugin_shutdown`` runs).

Guest state is per instance, so the last mount config is replayed (validate + initialize) on
every instance before its first call and after every new mount: no call meets an instance that
never saw the config. The pool lives from a plugin's first mount to its last unmount; the next
mount makes a new one (AGFS closed it for good).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from typing import TYPE_CHECKING, Any

from pfs.external.wasm import reentry
from pfs.external.wasm.instance import Instance, Work
from pfs.external.wasm.reentry import NO_GRANTS, Grants
from pfs.fs.errors import FSError, Unavailable

if TYPE_CHECKING:
    from pfs.external.wasm.plugin import WasmPlugin


#: Calls queued on one instance before a further call waits for room (the instance's thread runs
#: them back to back, so short calls share its thread hops; slow ones spread to other instances).
MAX_QUEUED = 32
#: A call joins a busy instance's queue when the calls ahead of it (by that instance's average
#: call time) should be done within this many seconds. Measured with bench/external.py (32
#: connections, 30-byte reads, 4 instances; the guest round then cost 15 µs): spreading every
#: call to an idle instance's thread served 31 % of memfs's rate, joining quick queues 35 %.
QUICK_QUEUE = 0.0005


class PoolClosed(Unavailable):
    """The plugin's last mount went while a call waited or held an instance."""


class Pool:
    """The instances of one plugin while it is mounted."""

    def __init__(self, plugin: WasmPlugin) -> None:
        self.plugin = plugin
        self.limits = plugin.runtime.limits
        #: Every instance made and not yet retired (serving, idle, retiring or pinned).
        self.instances: list[Instance] = []
        #: Instances being made (they count against the limit).
        self._making = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._numbers = itertools.count(1)
        #: The config every instance is set up with, and its generation (bumped per mount).
        self.config: dict[str, Any] | None = None
        self.generation = 0
        self.closed = False

    # -- acquiring and releasing -------------------------------------------------------------

    def _expired(self, instance: Instance) -> bool:
        limits = self.limits
        if instance.broken:
            return True
        if limits.max_requests and instance.requests >= limits.max_requests:
            return True
        return bool(
            limits.max_lifetime and time.monotonic() - instance.created >= limits.max_lifetime
        )

    def _least_loaded(self) -> tuple[Instance | None, Instance | None]:
        """The usable instance with the fewest calls in flight, and a busy one whose queue is
        quick to join (see ``QUICK_QUEUE``); used-up ones start retiring."""
        best = quick = None
        for instance in list(self.instances):
            if instance.pinned or instance.retiring:
                continue
            if self._expired(instance):
                instance.retiring = True
                if not instance.load:
                    self._retire(instance)
                continue
            if best is None or instance.load < best.load:
                best = instance
            if (
                quick is None
                and instance.load
                and instance.load < MAX_QUEUED
                and instance.load * instance.call_seconds < QUICK_QUEUE
            ):
                quick = instance
        return best, quick

    def _take(self, instance: Instance, pin: bool) -> Instance:
        instance.load += 1
        instance.requests += 1
        instance.pinned = pin
        return instance

    def take_free(self) -> Instance | None:
        """An instance with nothing in flight, right now (or None)."""
        best, _ = self._least_loaded()
        return self._take(best, False) if best is not None and not best.load else None

    def _take_now(self, pin: bool) -> tuple[Instance | None, Instance | None]:
        """A quick queue to join or an instance with nothing in flight, taken right now;
        else (None, the least busy instance)."""
        if self.closed:
            raise PoolClosed(f"wasm plugin {self.plugin.fstype}: instance pool is closed")
        best, quick = self._least_loaded()
        if quick is not None and not pin:
            return self._take(quick, pin), None
        if best is not None and not best.load:
            return self._take(best, pin), None
        return None, best

    async def acquire(self, pin: bool = False) -> Instance:
        """An instance for one call, or with ``pin`` one to itself (a handle's); release it
        after. A call prefers a quick queue, then an instance with nothing in flight, then a
        new one, then queues behind the least busy one."""
        deadline = time.monotonic() + self.limits.acquire_timeout
        while True:
            taken, best = self._take_now(pin)
            if taken is not None:
                return taken
            if len(self.instances) + self._making < self.limits.pool_size:
                try:
                    instance = await self._make()
                except BaseException:
                    self._wake()  # let a waiter try in this call's place
                    raise
                return self._take(instance, pin)
            if best is not None and not pin and best.load < MAX_QUEUED:
                return self._take(best, pin)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await asyncio.wait([waiter], timeout=max(deadline - time.monotonic(), 0))
            if not waiter.done():
                waiter.cancel()
                self._waiters.remove(waiter)
                raise Unavailable(
                    f"wasm plugin {self.plugin.fstype}: no free instance within "
                    f"{self.limits.acquire_timeout:g}s: all {self.limits.pool_size} are busy "
                    "(external_plugins.wasm.instance_pool_size, acquire_timeout)"
                )
            waiter.result()  # raises PoolClosed when the pool closed meanwhile

    async def _make(self) -> Instance:
        self._making += 1
        try:
            loop = asyncio.get_running_loop()
            label = f"#{next(self._numbers)}"
            # Instantiating takes milliseconds: off the event loop.
            instance = await loop.run_in_executor(
                self.plugin.runtime.executor, Instance, self.plugin, label
            )
        finally:
            self._making -= 1
        if self.closed:
            instance.stop()
            raise PoolClosed(f"wasm plugin {self.plugin.fstype}: instance pool is closed")
        self.instances.append(instance)
        return instance

    def release(self, instance: Instance) -> None:
        """One call (or the pinning handle) is done with ``instance``."""
        instance.load -= 1
        instance.pinned = False
        if instance not in self.instances:
            return
        if not instance.load and (self.closed or instance.retiring or self._expired(instance)):
            self._retire(instance)
        self._wake()

    def _wake(self) -> None:
        """Let the first waiting call look again."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _retire(self, instance: Instance) -> Any:
        """Shut ``instance`` down on its own thread and end the thread; the future of the
        shutdown (never raising)."""
        self.instances.remove(instance)

        def shutdown(inst: Instance, st: Any) -> None:
            if inst.generation:  # Shutdown answers an Initialize
                inst.shutdown()

        future = instance.submit(shutdown)
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        instance.stop()
        return future

    # -- calls -------------------------------------------------------------------------------

    def prepared(self, work: Work) -> Work:
        """``work`` preceded by the config replay when the instance has not seen the current
        config yet."""
        generation, config = self.generation, self.config

        def run(instance: Instance, st: Any) -> Any:
            if config is not None and instance.generation != generation:
                try:
                    instance.configure(config)
                except FSError:
                    instance.broken = True
                    raise
                instance.generation = generation
            return work(instance, st)

        return run

    def held_instance(self) -> Instance | None:
        """An instance of this pool held by the thread whose host function started this call:
        the call runs there (re-entrant) instead of waiting for a free instance."""
        held = reentry.held_by.get()
        if held:
            for instance in held:
                if instance in self.instances:
                    return instance
        return None

    async def run(self, work: Work, grants: Grants = NO_GRANTS) -> Any:
        """Run ``work`` on an instance for one call."""
        instance = self.held_instance()
        if instance is not None:
            return await instance.call(work, grants)
        if self.limits.inline_calls and not grants:
            return await self._run_inline(work)
        # Most calls find an instance at once: no acquire coroutine for them.
        instance = self._take_now(False)[0] or await self.acquire()
        try:
            # An instance set up with the current config needs no replay in front of the work.
            if instance.generation != self.generation:
                work = self.prepared(work)
            return await instance.submit(work, grants)
        finally:
            self.release(instance)

    async def _run_inline(self, work: Work) -> Any:
        """Run on the event loop when an instance is free right now (``inline_calls``)."""
        instance = self.take_free()
        if instance is None:
            instance = await self.acquire()
            try:
                return await instance.call(self.prepared(work), NO_GRANTS)
            finally:
                self.release(instance)
        try:
            if instance.lock.acquire(blocking=False):
                try:
                    return instance.run_guest(self.prepared(work))
                finally:
                    instance.lock.release()
            return await instance.call(self.prepared(work), NO_GRANTS)
        finally:
            self.release(instance)

    # -- mounts --------------------------------------------------------------------------------

    async def configure(self, config: dict[str, Any]) -> None:
        """A new mount's config: from now on every instance is set up with it; an instance
        applies it right away, so its errors fail the mount (and the old config stays)."""
        previous = self.config
        self.config = config
        self.generation += 1
        try:
            await self.run(lambda inst, st: None)
        except BaseException:
            self.config = previous
            self.generation += 1
            raise

    async def close(self) -> None:
        """The last mount went: shut every instance down (busy ones when released)."""
        self.closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(
                    PoolClosed(f"wasm plugin {self.plugin.fstype}: instance pool is closed")
                )
        idle = [instance for instance in self.instances if not instance.load]
        retiring = [self._retire(instance) for instance in idle]
        if retiring:
            await asyncio.wait(retiring)
