"""One compiled and instantiated WASM module: its store, lock, thread and guest memory."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import wasmtime

from pfs.external.common import ExternalPlugin, config_json, initialize_error
from pfs.external.wasm import fastcall, reentry
from pfs.external.wasm.abi import MASK32
from pfs.external.wasm.fastcall import GuestFunc, GuestMemory
from pfs.external.wasm.fs import WasmFS
from pfs.external.wasm.host import HOST_PATHS_KEY, HostFunctions
from pfs.external.wasm.reentry import Frame, Job, settle_all
from pfs.external.wasm.runtime import WasmRuntime, first_line
from pfs.fs.base import FileSystem
from pfs.fs.errors import FSError, InvalidArgument, Timeout

log = logging.getLogger("pfs.external")


class WasmPlugin(ExternalPlugin):
    """One compiled and instantiated module: its own store, instance and lock."""

    kind = "wasm"

    def __init__(
        self,
        key: str,
        wasm: bytes,
        runtime: WasmRuntime,
        root: FileSystem,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.runtime = runtime
        self.loop = loop
        self.lock = threading.RLock()
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        engine = runtime.engine
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise InvalidArgument(f"failed to compile WASM module: {first_line(exc)}") from None
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=runtime.limits.memory_limit)
        self.store.set_epoch_deadline(runtime.deadline_ticks)
        self._st = fastcall.store_handle(self.store)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        HostFunctions(self, root).define(linker)
        try:
            instance = linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise InvalidArgument(f"failed to instantiate WASM module: {first_line(exc)}") from None
        exports = instance.exports(self.store)
        self.exports: dict[str, Any] = {name: item for name, item in exports.items()}
        memory = self.exports.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: WASM module exports no memory"
            )
        self.memory = GuestMemory(memory)
        self.funcs = {
            n: GuestFunc(f, self.store)
            for n, f in self.exports.items()
            if isinstance(f, wasmtime.Func)
        }
        self.malloc = self.funcs.get("malloc")
        self._init_module()
        super().__init__(key, self._plugin_name())

    def _init_module(self) -> None:
        new = self.funcs.get("plugin_new")
        if new is None:
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: "
                "WASM module missing required function: plugin_new"
            )
        if not new.nresults:
            raise InvalidArgument(
                "failed to create WASM plugin wrapper: plugin_new returned no results"
            )
        # Reactor modules need _initialize; a command's _start would run main() and exit.
        initialize = self.funcs.get("_initialize")
        try:
            if initialize is not None:
                self.run_guest(lambda st: initialize(st))
            self.run_guest(lambda st: new(st))
        except FSError as exc:
            raise FSError(f"failed to create WASM plugin wrapper: {exc.message}") from None

    def _plugin_name(self) -> str:
        func = self.funcs.get("plugin_name")
        if func is not None:
            try:
                name = self.run_guest(lambda st: self.cstring(st, func(st) & MASK32))
            except FSError:
                name = ""
            if name:
                return name
        return "wasm-plugin"

    # -- running guest code ------------------------------------------------------------------

    def run_guest(
        self,
        work: Callable[[Any], Any],
        host_paths: tuple[str, ...] = (),
        held: dict[WasmPlugin, queue.SimpleQueue] | None = None,
    ) -> Any:
        """Run ``work(store)`` on this thread under the lock and the call deadline.

        ``held``: the modules held by threads waiting further up the call chain (for a call that
        started in a host function's namespace operation).
        """
        stack = reentry.stack()
        held = dict(stack[-1].held if stack else held or {})
        frame = Frame(self, host_paths, held)
        frame.held[self] = frame.jobs
        with self.lock:
            if not any(f.plugin is self for f in stack):  # outermost call into this module
                fastcall.set_epoch_deadline(self.store, self._st, self.runtime.deadline_ticks)
            stack.append(frame)
            try:
                return work(self._st)
            except wasmtime.Trap as exc:
                raise self._trap_error(exc) from None
            except wasmtime.WasmtimeError as exc:
                raise FSError(f"wasm plugin {self.fstype_or_key}: {first_line(exc)}") from None
            finally:
                stack.pop()

    @property
    def fstype_or_key(self) -> str:
        return getattr(self, "fstype", "") or self.key

    def _trap_error(self, exc: wasmtime.Trap) -> FSError:
        if exc.trap_code == wasmtime.TrapCode.INTERRUPT:
            return Timeout(
                f"wasm plugin {self.fstype_or_key}: call exceeded its deadline of "
                f"{self.runtime.limits.call_timeout:g}s and was stopped"
            )
        return FSError(f"wasm plugin {self.fstype_or_key} trapped: {first_line(exc)}")

    async def call(self, work: Callable[[Any], Any], host_paths: tuple[str, ...] = ()) -> Any:
        """Run ``work`` for a request: inline on the event loop when configured (and the mount
        has no host access), on the thread already holding this module (a re-entrant call from
        one of its host functions), else on the module's own thread."""
        if (
            self.runtime.limits.inline_calls
            and not host_paths
            and self.lock.acquire(blocking=False)
        ):
            try:
                return self.run_guest(work)
            finally:
                self.lock.release()
        loop = asyncio.get_running_loop()
        held = reentry.held_by.get()
        done = loop.create_future()
        jobs = held.get(self) if held else None
        if jobs is not None:
            jobs.put(Job(self, work, host_paths, done, loop))
        else:
            self._start_worker()
            self._queue.put(Job(self, work, host_paths, done, loop, held or {}))
        return await done

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._serve, name=f"pfs-wasm-{self.fstype_or_key}", daemon=True
            )
            self._worker.start()

    def _serve(self) -> None:
        """The module's own thread: runs its calls back to back (they are serialised anyway)."""
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
            try:
                finished.append((job, self.run_guest(job.work, job.host_paths, job.held), None))
            except BaseException as exc:
                finished.append((job, None, exc))
            if len(finished) >= 64:
                settle_all(finished)
                finished = []

    def close(self) -> None:
        """Stop the module's thread (after ``release``)."""
        self._queue.put(None)

    # -- memory ------------------------------------------------------------------------------

    def alloc(self, st: Any, data: bytes, terminate: bool) -> int:
        """Copy ``data`` (plus a NUL for strings) into memory from the guest's ``malloc``."""
        if self.malloc is None:
            raise FSError(f"wasm plugin {self.fstype_or_key}: module exports no malloc")
        payload = data + b"\x00" if terminate else data
        ptr = self.malloc(st, max(len(payload), 1)) & MASK32
        if ptr == 0:
            raise FSError("malloc returned null pointer")
        if payload:
            try:
                self.memory.write(st, payload, ptr)
            except IndexError:
                raise FSError("malloc returned a pointer outside memory") from None
        return ptr

    def cstring(self, st: Any, ptr: int) -> str:
        """A NUL-terminated guest string ("" for pointer 0)."""
        if ptr == 0:
            return ""
        size = self.memory.size(st)
        chunks = []
        pos = ptr
        while pos < size:
            chunk = self.memory.read(st, pos, min(pos + 4096, size))
            end = chunk.find(0)
            if end >= 0:
                chunks.append(chunk[:end])
                return b"".join(chunks).decode("utf-8", "replace")
            chunks.append(chunk)
            pos += len(chunk)
        raise FSError(f"wasm plugin {self.fstype_or_key}: string at {ptr} runs off memory")

    def buffer(self, st: Any, ptr: int, length: int) -> bytes:
        """``length`` bytes of guest memory at ``ptr``."""
        try:
            return self.memory.read(st, ptr, ptr + length)
        except IndexError:
            raise FSError(
                f"wasm plugin {self.fstype_or_key}: buffer at {ptr} runs off memory"
            ) from None

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

    # -- lifecycle ---------------------------------------------------------------------------

    def plugin_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k != HOST_PATHS_KEY}

    def check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        host_paths = config.get(HOST_PATHS_KEY, [])
        if not isinstance(host_paths, list) or not all(
            isinstance(p, str) and p.startswith("/") for p in host_paths
        ):
            raise InvalidArgument(
                f"{self.fstype}: config key '{HOST_PATHS_KEY}' must be a list of absolute PFS paths"
            )
        return super().check_config(config)

    def _lifecycle(self, export: str, config: dict[str, Any] | None) -> str:
        func = self.funcs.get(export)
        if func is None:
            return ""

        def work(st: Any) -> str:
            args = [self.alloc(st, config_json(config), True)] if config is not None else []
            return self.cstring(st, func(st, *args) & MASK32)

        return self.run_guest(work)

    def _validate(self, config: dict[str, Any]) -> None:
        error = self._lifecycle("plugin_validate", config)
        if error:
            raise InvalidArgument(f"validation failed: {error}")

    def _initialize(self, config: dict[str, Any]) -> None:
        error = self._lifecycle("plugin_initialize", config)
        if error:
            raise initialize_error(f"initialization failed: {error}")

    def _shutdown(self) -> None:
        try:
            error = self._lifecycle("plugin_shutdown", None)
        except FSError as exc:
            error = exc.message
        if error:
            log.warning("%s: plugin_shutdown: %s", self.fstype, error)

    def _free(self) -> None:
        """Nothing to free: the store goes with the last reference."""

    def _filesystem(self, config: dict[str, Any]) -> WasmFS:
        return WasmFS(self, config)
