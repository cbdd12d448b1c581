"""One instance of a compiled module: its store, lock, thread and guest memory.

An instance runs its calls one at a time, on its own thread, under a re-entrant lock (a long
guest call shares the GIL at every tick: see runtime.py); a host function's namespace operation
that calls back into an instance its thread holds is handed to that thread (see ``reentry``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime

from pfs.external.common import config_json, initialize_error
from pfs.external.wasm import fastcall, reentry
from pfs.external.wasm.abi import MASK32
from pfs.external.wasm.fastcall import guest_func, guest_memory
from pfs.external.wasm.host import HostFunctions
from pfs.external.wasm.reentry import NO_GRANTS, Frame, Grants, Job, settle_all
from pfs.external.wasm.runtime import first_line
from pfs.fs.errors import FSError, InvalidArgument, Timeout

if TYPE_CHECKING:
    from pfs.external.wasm.plugin import WasmPlugin

log = logging.getLogger("pfs.external")

#: What an instance's call time is taken to be before one was timed (see Pool.acquire).
UNTIMED_CALL = 0.001

#: The held instances of a call that did not start in a host function (never written to).
_NONE_HELD: dict[Instance, queue.SimpleQueue] = {}

#: Work for an instance: gets the instance and its store handle.
Work = Callable[["Instance", Any], Any]


@dataclass(frozen=True)
class SharedBuffers:
    """AGFS's shared buffers (§7.4): the host may write one argument at ``input`` instead of
    calling ``malloc``; pointers into either buffer are never freed."""

    input: int
    output: int
    size: int

    def holds(self, ptr: int) -> bool:
        return any(start <= ptr < start + self.size for start in (self.input, self.output))


class Instance:
    """One instance of ``plugin``'s module: its own store, memory, lock and thread."""

    def __init__(self, plugin: WasmPlugin, label: str = "") -> None:
        self.plugin = plugin
        self.runtime = plugin.runtime
        self.loop = plugin.loop
        self.label = label
        self.lock = threading.RLock()
        #: Calls into this instance in progress on the thread holding the lock (nested ones
        #: come back through host functions).
        self._depth = 0
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        #: Pool bookkeeping: when made, acquisitions, calls in flight, held by a handle, used up
        #: (retired once idle), the config generation it was set up with.
        self.created = time.monotonic()
        self.requests = 0
        self.load = 0
        self.pinned = False
        self.retiring = False
        self.generation = 0
        #: A config replay failed or the guest trapped badly: replace instead of reusing.
        self.broken = False
        #: How long its calls take (a moving average, seconds); until one is timed, long
        #: enough that the pool spreads calls rather than queue them here.
        self.call_seconds = UNTIMED_CALL
        engine = self.runtime.engine
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=self.runtime.limits.memory_limit)
        self.store.set_epoch_deadline(self.runtime.deadline_ticks)
        self._st = fastcall.store_handle(self.store)
        self._set_deadline = fastcall.deadline_setter(
            self.store, self._st, self.runtime.deadline_ticks
        )
        #: The outermost call's end (monotonic seconds) and whether the tick callback ended it.
        self._call_ends = 0.0
        self._stopped = False
        if self.runtime.sliced:
            self._on_deadline = fastcall.on_epoch_deadline(self.store, self._tick)
            self._poke = self.runtime.poke
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        HostFunctions(self, plugin.root, plugin.version).define(linker)
        try:
            instance = linker.instantiate(self.store, plugin.module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise InvalidArgument(f"failed to instantiate WASM module: {first_line(exc)}") from None
        exports = instance.exports(self.store)
        self.exports: dict[str, Any] = {name: item for name, item in exports.items()}
        memory = self.exports.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: WASM module exports no memory"
            )
        self.memory = guest_memory(memory)
        sliced = self.runtime.sliced
        self.funcs = {
            n: guest_func(f, self.store, self._st, keep_gil=sliced)
            for n, f in self.exports.items()
            if isinstance(f, wasmtime.Func)
        }
        self.malloc = self.funcs.get("malloc")
        self.free = self.funcs.get("free") if plugin.version >= 2 else None
        self._start_module()
        self.shared = self._shared_buffers()

    @property
    def name(self) -> str:
        return self.plugin.fstype_or_key

    def _start_module(self) -> None:
        """Run ``_initialize`` (reactors need it; a command's ``_start`` would run main() and
        exit) and ``plugin_new`` (required by the original ABI, optional in AGFS's)."""
        new = self.funcs.get("plugin_new")
        if new is None and self.plugin.version < 2:
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: "
                "WASM module missing required function: plugin_new"
            )
        if new is not None and not new.nresults and self.plugin.version < 2:
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: plugin_new returned no results"
            )
        initialize = self.funcs.get("_initialize")
        try:
            if initialize is not None:
                self.run_guest(lambda inst, st: initialize(st))
            if new is not None:
                self.run_guest(lambda inst, st: new(st))
        except FSError as exc:
            context = "failed to call plugin_new" if self.plugin.version >= 2 else (
                "failed to create WASM plugin wrapper"
            )
            raise FSError(f"{context}: {exc.message}") from None

    def _shared_buffers(self) -> SharedBuffers | None:
        getters = [self.funcs.get(n) for n in (
            "get_input_buffer_ptr", "get_output_buffer_ptr", "get_shared_buffer_size")]
        if self.plugin.version < 2 or any(g is None or g.nresults != 1 for g in getters):
            return None
        try:
            values = self.run_guest(lambda inst, st: [g(st) & MASK32 for g in getters])
        except FSError:
            return None
        input_ptr, output_ptr, size = values
        if not input_ptr or size <= 0 or input_ptr + size > self.run_guest(
            lambda inst, st: inst.memory.size(st)
        ):
            return None
        return SharedBuffers(input_ptr, output_ptr, size)

    # -- running guest code ------------------------------------------------------------------

    def run_guest(
        self,
        work: Work,
        grants: Grants = NO_GRANTS,
        held: dict[Instance, queue.SimpleQueue] | None = None,
    ) -> Any:
        """Run ``work(self, store)`` on this thread under the lock and the call deadline.

        ``held``: the instances held by threads waiting further up the call chain (for a call
        that started in a host function's namespace operation).
        """
        stack = reentry.stack()
        frame = Frame(self, grants, stack[-1].held if stack else held or _NONE_HELD)
        with self.lock:
            if not self._depth:  # outermost call into this instance
                self._call_ends = time.monotonic() + self.runtime.limits.call_timeout
                self._stopped = False
                self._set_deadline()
                if self.runtime.sliced:
                    self._poke()
            self._depth += 1
            stack.append(frame)
            try:
                return work(self, self._st)
            except wasmtime.Trap as exc:
                raise self._trap_error(exc) from None
            except wasmtime.WasmtimeError as exc:
                if self._stopped:
                    raise self._timeout() from None
                raise FSError(f"wasm plugin {self.name}: {first_line(exc)}") from None
            finally:
                stack.pop()
                self._depth -= 1

    def _tick(self) -> bool:
        """At each tick during a sliced guest call (runtime.py): hand the GIL over to any thread
        waiting for it, and go on unless the call's time is up."""
        if time.monotonic() >= self._call_ends:
            self._stopped = True
            return False
        self._poke()  # still running: keep ticking
        time.sleep(0)
        return True

    def _timeout(self) -> Timeout:
        return Timeout(
            f"wasm plugin {self.name}: call exceeded its deadline of "
            f"{self.runtime.limits.call_timeout:g}s and was stopped"
        )

    def _trap_error(self, exc: wasmtime.Trap) -> FSError:
        if self._stopped or exc.trap_code == wasmtime.TrapCode.INTERRUPT:
            return self._timeout()
        return FSError(f"wasm plugin {self.name} trapped: {first_line(exc)}")

    async def call(self, work: Work, grants: Grants = NO_GRANTS) -> Any:
        return await self.submit(work, grants)

    def submit(self, work: Work, grants: Grants = NO_GRANTS) -> asyncio.Future[Any]:
        """Queue ``work`` (from the event loop) for the thread already holding this instance (a
        re-entrant call from one of its host functions), else for the instance's own thread."""
        loop = asyncio.get_running_loop()
        held = reentry.held_by.get()
        done = loop.create_future()
        jobs = held.get(self) if held else None
        if jobs is not None:
            jobs.put(Job(self, work, grants, done, loop))
        else:
            self._start_worker()
            self._queue.put(Job(self, work, grants, done, loop, held))
        return done

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._serve, name=f"pfs-wasm-{self.name}{self.label}", daemon=True
            )
            self._worker.start()

    def _serve(self) -> None:
        """The instance's own thread: runs its calls back to back (they are serialised anyway)."""
        finished: list[tuple[Job, Any, BaseException | None]] = []
        while True:
            try:
                job = self._queue.get(block=not finished)
            except queue.Empty:
                # Queue drained: wake the event loop once for the whole batch.
                settle_all(finished)
                finished = []
                continue
            if job is None:
                settle_all(finished)
                return
            start = time.perf_counter()
            try:
                finished.append((job, self.run_guest(job.work, job.grants, job.held), None))
            except BaseException as exc:
                finished.append((job, None, exc))
            took = time.perf_counter() - start
            self.call_seconds += (took - self.call_seconds) * 0.2
            if len(finished) >= 64:
                settle_all(finished)
                finished = []

    def stop(self) -> None:
        """End the instance's thread once its queued calls ran."""
        self._queue.put(None)

    # -- lifecycle exports -------------------------------------------------------------------

    def lifecycle(self, export: str, config: dict[str, Any] | None) -> str:
        """Call ``plugin_validate``/``_initialize`` (with the config) or ``plugin_shutdown``;
        the guest's error text, "" for success or a missing export. Runs on this thread."""
        func = self.funcs.get(export)
        if func is None:
            return ""

        def work(inst: Instance, st: Any) -> str:
            with Scratch(inst, st) as scratch:
                args = [scratch.put(config_json(config), True)] if config is not None else []
                return scratch.string(func(st, *args) & MASK32)

        return self.run_guest(work)

    def configure(self, config: dict[str, Any]) -> None:
        """Validate and initialise with a mount's config (raises the plugin's error)."""
        error = self.lifecycle("plugin_validate", config)
        if error:
            raise InvalidArgument(f"validation failed: {error}")
        error = self.lifecycle("plugin_initialize", config)
        if error:
            raise initialize_error(f"initialization failed: {error}", self._last_errno())

    def _last_errno(self) -> int:
        """PFS extension: the optional ``plugin_last_errno()`` export types a failed
        ``plugin_initialize`` (0, a trap or no export: untyped)."""
        func = self.funcs.get("plugin_last_errno")
        if func is None:
            return 0
        try:
            return int(self.run_guest(lambda inst, st: func(st)))
        except FSError:
            return 0

    def shutdown(self) -> None:
        try:
            error = self.lifecycle("plugin_shutdown", None)
        except FSError as exc:
            error = exc.message
        if error:
            log.warning("%s: plugin_shutdown: %s", self.name, error)

    # -- memory ------------------------------------------------------------------------------

    def alloc(self, st: Any, data: bytes, terminate: bool) -> int:
        """Copy ``data`` (plus a NUL for strings) into memory from the guest's ``malloc``; the
        guest owns it."""
        return self.place(st, data + b"\x00" if terminate else data)

    def place(self, st: Any, payload: bytes) -> int:
        """Copy ``payload`` into memory from the guest's ``malloc``; the guest owns it."""
        malloc = self.malloc
        if malloc is None:
            raise FSError(f"wasm plugin {self.name}: module exports no malloc")
        ptr = malloc(st, len(payload) or 1) & MASK32
        if ptr == 0:
            raise FSError("malloc returned null pointer")
        if payload:
            try:
                self.memory.write(st, payload, ptr)
            except IndexError:
                raise FSError("malloc returned a pointer outside memory") from None
        return ptr

    def release_memory(self, st: Any, ptr: int, size: int) -> None:
        """AGFS's host frees (§7.4): ``free(ptr, size)``, or ``free(ptr)`` for a C-style free."""
        free = self.free
        if free is None or ptr == 0:
            return
        try:
            if free.nparams >= 2:
                free(st, ptr, size)
            elif free.nparams == 1:
                free(st, ptr)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            log.debug("%s: free(%d) failed: %s", self.name, ptr, first_line(exc))

    def cstring(self, st: Any, ptr: int) -> str:
        """A NUL-terminated guest string ("" for pointer 0)."""
        return self.cbytes(st, ptr).decode("utf-8", "replace")

    def cbytes(self, st: Any, ptr: int) -> bytes:
        """The bytes of a NUL-terminated guest string (b"" for pointer 0)."""
        if ptr == 0:
            return b""
        try:
            return self.memory.string(st, ptr)
        except IndexError:
            raise FSError(f"wasm plugin {self.name}: string at {ptr} runs off memory") from None

    def buffer(self, st: Any, ptr: int, length: int) -> bytes:
        """``length`` bytes of guest memory at ``ptr``."""
        try:
            return self.memory.read(st, ptr, ptr + length)
        except IndexError:
            raise FSError(f"wasm plugin {self.name}: buffer at {ptr} runs off memory") from None

    def last_error(self, st: Any) -> str:
        """PFS extension: the optional ``plugin_last_error()`` export explains a failed
        ``fs_read``/``fs_write`` (the original ABI has no message for them)."""
        func = self.funcs.get("plugin_last_error")
        if func is None:
            return ""
        try:
            return self.cstring(st, func(st) & MASK32)
        except FSError:
            return ""


class Scratch:
    """The guest memory of one export call: the arguments the host places and the results it
    reads. With AGFS's ABI the host frees both after the call (§7.4) and may place one argument
    per call in the shared input buffer (AGFS placed path and data both there, so the data
    overwrote the path); with the original ABI the guest owns everything.
    """

    __slots__ = ("instance", "st", "frees", "_shared_open", "_placed", "_returned")

    def __init__(self, instance: Instance, st: Any) -> None:
        self.instance = instance
        self.st = st
        self.frees = frees = instance.free is not None
        self._shared_open = instance.shared is not None
        if frees:  # what to free afterwards (with the original ABI, nothing)
            self._placed: list[tuple[int, int]] = []
            self._returned: set[int] = set()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.frees:
            return
        instance, shared = self.instance, self.instance.shared
        for ptr, size in self._placed:
            instance.release_memory(self.st, ptr, size)
        for ptr in self._returned:
            if shared is None or not shared.holds(ptr):
                instance.release_memory(self.st, ptr, 0)

    def put(self, data: bytes, terminate: bool, shared: bool = False) -> int:
        """Place an argument (a string when ``terminate``); ``shared``: the call is one of those
        AGFS passes through the shared input buffer."""
        instance = self.instance
        payload = data + b"\x00" if terminate else data
        buffers = instance.shared
        if shared and self._shared_open and buffers is not None and len(payload) <= buffers.size:
            self._shared_open = False
            instance.memory.write(self.st, payload, buffers.input)
            return buffers.input
        ptr = instance.place(self.st, payload)
        if self.frees:
            self._placed.append((ptr, len(payload)))
        return ptr

    def returned(self, ptr: int) -> int:
        """Note a pointer the guest returned (freed after the call with AGFS's ABI)."""
        if ptr and self.frees:
            self._returned.add(ptr)
        return ptr

    def string(self, ptr: int) -> str:
        """A string the guest returned."""
        return self.instance.cstring(self.st, self.returned(ptr))

    def cbytes(self, ptr: int) -> bytes:
        """A string the guest returned, as its bytes."""
        return self.instance.cbytes(self.st, self.returned(ptr))

    def bytes(self, ptr: int, length: int) -> bytes:
        """A buffer the guest returned."""
        return self.instance.buffer(self.st, self.returned(ptr), length)
