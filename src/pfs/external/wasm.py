"""WASM plugins in wasmtime, with the original server's guest ABI (see WASM_ABI.md, pfs_plugin.h).

Sandbox: WASI without preopened directories (no file system, no network); every guest call runs
under an epoch deadline (``call_timeout``) and the store's memory is capped (``memory_limit``), so a
loop, a trap or a runaway allocation ends that call with an error while the server and the module
stay up. The ``env.host_fs_*`` imports reach the PFS namespace, but only below the prefixes in the
calling mount's ``host_paths`` config key.

Guest calls run in the module's own thread (a wasmtime call releases the GIL), one at a time
under a re-entrant lock. A host function waits for the namespace operation it started on the event
loop; when that operation calls back into a module that the waiting thread already holds (the
plugin's own mount, or a cycle of plugins), the call is handed to the waiting thread and runs
there, so re-entrant calls never deadlock.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import wasmtime

try:  # the C-API bindings wasmtime-py is built on; used for fast guest calls
    from wasmtime import _ffi
except ImportError:  # pragma: no cover - other wasmtime-py layouts
    _ffi = None

from pfs.external.common import (
    ExternalPlugin,
    config_json,
    initialize_error,
    no_streaming,
    refuse_partial_write,
)
from pfs.fs.base import REPLACE, FileSystem, WriteFlag
from pfs.fs.errors import FSError, InvalidArgument, Timeout
from pfs.fs.fileinfo import FileInfo, Meta, parse_time_ns
from pfs.fs.gotime import format_rfc3339nano
from pfs.fs.paths import normalize

log = logging.getLogger("pfs.external")

#: Mount-config key naming the namespace prefixes the plugin's host functions may reach.
HOST_PATHS_KEY = "host_paths"

_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class WasmLimits:
    call_timeout: float = 5.0
    memory_limit: int = 64 << 20
    #: Run calls of mounts without host_paths on the event loop: no thread hop, but a runaway
    #: call stalls the whole server until its deadline. For trusted plugins only.
    inline_calls: bool = False


class WasmRuntime:
    """The engine all WASM plugins share, its epoch ticker, and threads for compiling modules."""

    def __init__(self, limits: WasmLimits) -> None:
        self.limits = limits
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pfs-wasm-load")
        # A twentieth of the deadline (5 s → 0.25 s): deadlines end at most 5 % late, and an idle
        # server wakes the ticker only a few times a second.
        self.tick = min(max(limits.call_timeout / 20, 0.005), 0.25)
        self.deadline_ticks = math.ceil(limits.call_timeout / self.tick) + 1
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="pfs-wasm-epoch", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _c_function(name: str, restype: Any, *argtypes: Any, keep_gil: bool = False) -> Any:
    """A private prototype of a wasmtime C function (plain ints in and out, no type checks).

    ``keep_gil``: for calls that cannot run guest code; releasing the GIL around a sub-µs call
    only lets the server's I/O threads contend for it. Guest calls must release it, or the
    epoch ticker thread could never interrupt a runaway guest.
    """
    if _ffi is None:
        return None
    prototype = ctypes.PYFUNCTYPE if keep_gil else ctypes.CFUNCTYPE
    try:
        return prototype(restype, *argtypes)((name, _ffi.dll))
    except (AttributeError, OSError):
        return None


_vp, _size = ctypes.c_void_p, ctypes.c_size_t
_func_call = _c_function("wasmtime_func_call_unchecked", _vp, _vp, _vp, _vp, _size, _vp)
_memory_data = _c_function("wasmtime_memory_data", _vp, _vp, _vp, keep_gil=True)
_memory_size = _c_function("wasmtime_memory_data_size", _size, _vp, _vp, keep_gil=True)
_set_deadline = _c_function(
    "wasmtime_context_set_epoch_deadline", None, _vp, ctypes.c_uint64, keep_gil=True
)
_FAST = None not in (_func_call, _memory_data, _memory_size, _set_deadline)
#: ``wasmtime_val_raw_t`` is a 16-byte union: one value per two int64 slots, low bytes first.
_RAW_SLOTS = 2


def _context_address(st: Any) -> int:
    return st if type(st) is int else ctypes.addressof(st._context().contents)


class GuestFunc:
    """A guest export called through wasmtime's C API directly.

    ``wasmtime.Func.__call__`` re-derives the signature and converts every value through Python
    objects on each call (~90 µs). Our exports take and return only i32/i64, checked once here,
    so the unchecked raw call is safe and costs a few µs. Falls back to the public call when the
    private bindings are not there (another wasmtime-py version) or for other signatures.
    """

    __slots__ = ("func", "nparams", "nresults", "result_i64", "_ref", "_raw_t")

    def __init__(self, func: wasmtime.Func, store: wasmtime.Store) -> None:
        self.func = func
        ty = func.type(store)
        params, results = [str(p) for p in ty.params], [str(r) for r in ty.results]
        self.nparams = len(params)
        self.nresults = len(results)
        ints = (str(_I32), str(_I64))
        fast = _FAST and all(k in ints for k in params + results) and self.nresults <= 1
        self.result_i64 = bool(results) and results[0] == str(_I64)
        self._ref = ctypes.addressof(func._func) if fast else None
        slots = max(self.nparams, self.nresults, 1) * _RAW_SLOTS
        self._raw_t = ctypes.c_int64 * slots

    def __call__(self, st: Any, *args: int) -> Any:
        """``st``: the store, a host function's caller, or (fast path) a context address."""
        if self._ref is None:
            return self.func(st, *args)
        if len(args) != self.nparams:
            raise wasmtime.WasmtimeError(f"expected {self.nparams} arguments, got {len(args)}")
        raw = self._raw_t()
        for i, value in enumerate(args):
            # i32 arguments live in the low 4 bytes; mask so a large unsigned value fits int64.
            raw[i * _RAW_SLOTS] = value if -(1 << 63) <= value < (1 << 63) else value - (1 << 64)
        trap = ctypes.c_void_p()
        error = _func_call(
            _context_address(st), self._ref, ctypes.addressof(raw), len(raw) // _RAW_SLOTS,
            ctypes.addressof(trap),
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(error, ctypes.POINTER(_ffi.wasmtime_error_t))
            )
        if trap.value:
            raise wasmtime.Trap._from_ptr(ctypes.cast(trap, ctypes.POINTER(_ffi.wasm_trap_t)))
        if not self.nresults:
            return None
        value = raw[0]
        return value if self.result_i64 else ctypes.c_int32(value & _MASK32).value


class GuestMemory:
    """The exported linear memory, read and written with memmove (bounds-checked)."""

    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory
        self._ref = ctypes.addressof(memory._memory) if _FAST else None

    def _span(self, st: Any) -> tuple[int, int]:
        ctx = _context_address(st)
        return _memory_data(ctx, self._ref) or 0, _memory_size(ctx, self._ref)

    def size(self, st: Any) -> int:
        if self._ref is None:
            return self.memory.data_len(st)
        return self._span(st)[1]

    def read(self, st: Any, start: int, stop: int) -> bytes:
        if self._ref is None:
            return bytes(self.memory.read(st, start, stop))
        base, size = self._span(st)
        if not 0 <= start <= stop <= size:
            raise IndexError("out of bounds")
        return ctypes.string_at(base + start, stop - start)

    def write(self, st: Any, data: bytes, start: int) -> None:
        if self._ref is None:
            self.memory.write(st, data, start)
            return
        base, size = self._span(st)
        if not 0 <= start <= start + len(data) <= size:
            raise IndexError("out of bounds")
        ctypes.memmove(base + start, data, len(data))


# -- re-entrant call plumbing -----------------------------------------------------------------

#: In a coroutine started by a host function: module → queue of the thread that holds it.
_held_by: contextvars.ContextVar[dict[WasmPlugin, queue.SimpleQueue] | None] = (
    contextvars.ContextVar("pfs_wasm_held_by", default=None)
)
_frames = threading.local()


@dataclass
class _Frame:
    """One guest call in progress on this thread."""

    plugin: WasmPlugin
    host_paths: tuple[str, ...]
    held: dict[WasmPlugin, queue.SimpleQueue] = field(default_factory=dict)
    jobs: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)


def _stack() -> list[_Frame]:
    stack = getattr(_frames, "stack", None)
    if stack is None:
        stack = _frames.stack = []
    return stack


@dataclass
class _Job:
    plugin: WasmPlugin
    work: Callable[[Any], Any]
    host_paths: tuple[str, ...]
    done: asyncio.Future
    loop: asyncio.AbstractEventLoop
    held: dict[WasmPlugin, queue.SimpleQueue] = field(default_factory=dict)


def _settle_all(finished: list[tuple[_Job, Any, BaseException | None]]) -> None:
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


# -- guest data exchange ----------------------------------------------------------------------


def _unpack(value: int) -> tuple[int, int]:
    value &= _MASK64
    return value & _MASK32, value >> 32


def _info_from_json(obj: Any) -> FileInfo:
    """Guest FileInfo JSON: Go-style field names matched case-insensitively."""
    if not isinstance(obj, dict):
        raise FSError(f"failed to unmarshal file info: expected an object, got {obj!r}")
    fields = {str(k).lower(): v for k, v in obj.items()}
    meta = fields.get("meta")
    meta_fields = {str(k).lower(): v for k, v in meta.items()} if isinstance(meta, dict) else {}
    content = meta_fields.get("content")
    if isinstance(content, dict):
        content = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in content.items()}
    else:
        content = None
    mod_time = fields.get("modtime")
    if isinstance(mod_time, int | float) and not isinstance(mod_time, bool):
        mtime_ns = int(mod_time * 1_000_000_000)
    elif isinstance(mod_time, str) and mod_time:
        mtime_ns = parse_time_ns(mod_time) if not mod_time.startswith("0001-01-01") else _ZERO_TIME
    else:
        mtime_ns = _ZERO_TIME
    try:
        return FileInfo(
            name=str(fields.get("name") or ""),
            size=int(fields.get("size") or 0),
            mode=int(fields.get("mode") or 0) & _MASK32,
            mtime_ns=mtime_ns,
            is_dir=bool(fields.get("isdir")),
            meta=Meta(
                str(meta_fields.get("name") or ""), str(meta_fields.get("type") or ""), content
            ),
        )
    except (TypeError, ValueError) as exc:
        raise FSError(f"failed to unmarshal file info: {exc}") from None


#: Go's zero time (0001-01-01T00:00:00Z) in Unix nanoseconds.
_ZERO_TIME = -62135596800 * 1_000_000_000


def _info_to_json(info: FileInfo) -> dict[str, Any]:
    """Host FileInfo for the guest: the Go default (capitalised) field names."""
    return {
        "Name": info.name,
        "Size": info.size,
        "Mode": info.mode,
        "ModTime": format_rfc3339nano(info.mtime_ns),
        "IsDir": info.is_dir,
        "Meta": {"Name": info.meta.name, "Type": info.meta.type, "Content": info.meta.content},
    }


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
        self.root = root
        self.loop = loop
        self.lock = threading.RLock()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        engine = runtime.engine
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise InvalidArgument(f"failed to compile WASM module: {_first_line(exc)}") from None
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=runtime.limits.memory_limit)
        self.store.set_epoch_deadline(runtime.deadline_ticks)
        #: What guest work receives: the store's context address on the fast path (stable for
        #: the store's life), else the store itself.
        self._st: Any = ctypes.addressof(self.store._context().contents) if _FAST else self.store
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        self._define_host_functions(linker)
        try:
            instance = linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise InvalidArgument(
                f"failed to instantiate WASM module: {_first_line(exc)}"
            ) from None
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
                self._guest(lambda st: initialize(st))
            self._guest(lambda st: new(st))
        except FSError as exc:
            raise FSError(f"failed to create WASM plugin wrapper: {exc.message}") from None

    def _plugin_name(self) -> str:
        func = self.funcs.get("plugin_name")
        if func is not None:
            try:
                name = self._guest(lambda st: self._cstr(st, func(st) & _MASK32))
            except FSError:
                name = ""
            if name:
                return name
        return "wasm-plugin"

    # -- running guest code ------------------------------------------------------------------

    def _guest(
        self,
        work: Callable[[Any], Any],
        host_paths: tuple[str, ...] = (),
        held: dict[WasmPlugin, queue.SimpleQueue] | None = None,
    ) -> Any:
        """Run ``work(store)`` on this thread under the lock and the call deadline.

        ``held``: the modules held by threads waiting further up the call chain (for a call that
        started in a host function's namespace operation).
        """
        stack = _stack()
        held = dict(stack[-1].held if stack else held or {})
        frame = _Frame(self, host_paths, held)
        frame.held[self] = frame.jobs
        with self.lock:
            outermost = not any(f.plugin is self for f in stack)
            if outermost:
                if _FAST:
                    _set_deadline(self._st, self.runtime.deadline_ticks)
                else:
                    self.store.set_epoch_deadline(self.runtime.deadline_ticks)
            stack.append(frame)
            try:
                return work(self._st)
            except wasmtime.Trap as exc:
                raise self._trap_error(exc) from None
            except wasmtime.WasmtimeError as exc:
                raise FSError(f"wasm plugin {self.fstype_or_key}: {_first_line(exc)}") from None
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
        return FSError(f"wasm plugin {self.fstype_or_key} trapped: {_first_line(exc)}")

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
                return self._guest(work)
            finally:
                self.lock.release()
        loop = asyncio.get_running_loop()
        held = _held_by.get()
        done = loop.create_future()
        jobs = held.get(self) if held else None
        if jobs is not None:
            jobs.put(_Job(self, work, host_paths, done, loop))
        else:
            self._start_worker()
            self._queue.put(_Job(self, work, host_paths, done, loop, held or {}))
        return await done

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._serve, name=f"pfs-wasm-{self.fstype_or_key}", daemon=True
            )
            self._worker.start()

    def _serve(self) -> None:
        """The module's own thread: runs its calls back to back (they are serialised anyway)."""
        finished: list[tuple[_Job, Any, BaseException | None]] = []
        while True:
            try:
                job = self._queue.get(block=not finished)
            except queue.Empty:
                # Queue drained: wake the event loop once for the whole batch.
                _settle_all(finished)
                finished = []
                continue
            if job is None:
                _settle_all(finished)
                return
            try:
                finished.append((job, self._guest(job.work, job.host_paths, job.held), None))
            except BaseException as exc:
                finished.append((job, None, exc))
            if len(finished) >= 64:
                _settle_all(finished)
                finished = []

    def close(self) -> None:
        """Stop the module's thread (after ``release``)."""
        self._queue.put(None)

    # -- memory ------------------------------------------------------------------------------

    def _alloc(self, st: Any, data: bytes, terminate: bool) -> int:
        """Copy ``data`` (plus a NUL for strings) into memory from the guest's ``malloc``."""
        if self.malloc is None:
            raise FSError(f"wasm plugin {self.fstype_or_key}: module exports no malloc")
        payload = data + b"\x00" if terminate else data
        ptr = self.malloc(st, max(len(payload), 1)) & _MASK32
        if ptr == 0:
            raise FSError("malloc returned null pointer")
        if payload:
            try:
                self.memory.write(st, payload, ptr)
            except IndexError:
                raise FSError("malloc returned a pointer outside memory") from None
        return ptr

    def _cstr(self, st: Any, ptr: int) -> str:
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

    def _bytes(self, st: Any, ptr: int, length: int) -> bytes:
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
            return self._cstr(st, func(st) & _MASK32)
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
            args = [self._alloc(st, config_json(config), True)] if config is not None else []
            return self._cstr(st, func(st, *args) & _MASK32)

        return self._guest(work)

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

    # -- host functions ----------------------------------------------------------------------

    def _define_host_functions(self, linker: wasmtime.Linker) -> None:
        i32, i64 = _I32, _I64
        table: dict[str, tuple[list, list, Callable]] = {
            "host_fs_read": ([i32, i64, i64], [i64], self._host_read),
            "host_fs_write": ([i32, i32, i32], [i64], self._host_write),
            "host_fs_stat": ([i32], [i64], self._host_stat),
            "host_fs_readdir": ([i32], [i64], self._host_readdir),
            "host_fs_create": ([i32], [i32], self._host_create),
            "host_fs_mkdir": ([i32, i32], [i32], self._host_mkdir),
            "host_fs_remove": ([i32], [i32], self._host_remove),
            "host_fs_remove_all": ([i32], [i32], self._host_remove_all),
            "host_fs_rename": ([i32, i32], [i32], self._host_rename),
            "host_fs_chmod": ([i32, i32], [i32], self._host_chmod),
        }
        for name, (params, results, func) in table.items():
            linker.define_func(
                "env", name, wasmtime.FuncType(params, results), func, access_caller=True
            )

    def _host_path(self, caller: Any, ptr: int) -> str:
        """The guest's path argument, normalised and checked against the mount's ``host_paths``."""
        path = normalize(self._cstr(caller, ptr & _MASK32))
        stack = _stack()
        allowed = stack[-1].host_paths if stack else ()
        for prefix in allowed:
            prefix = normalize(prefix)
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return path
        raise FSError(
            f"permission denied: {path} is outside this mount's host_paths "
            f"({', '.join(allowed) or 'none'})"
        )

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a namespace operation on the event loop; meanwhile serve re-entrant guest calls."""
        frame = _stack()[-1]
        token = _held_by.set(frame.held)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        finally:
            _held_by.reset(token)
        jobs = frame.jobs
        future.add_done_callback(lambda _: jobs.put(None))
        deadline = time.monotonic() + self.runtime.limits.call_timeout
        while not future.done():
            try:
                job = jobs.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                future.cancel()
                raise FSError("host call timed out") from None
            if job is None:
                continue
            try:
                _settle_all([(job, job.plugin._guest(job.work, job.host_paths), None)])
            except BaseException as exc:
                _settle_all([(job, None, exc)])
        return future.result()

    def _host_error(self, caller: Any, exc: BaseException) -> int:
        message = exc.message if isinstance(exc, FSError) else str(exc)
        try:
            return self._alloc(caller, message.encode(), True)
        except FSError:
            return 1

    def _host_read(self, caller: Any, path_ptr: int, offset: int, size: int) -> int:
        try:
            path = self._host_path(caller, path_ptr)
            data = self._wait(self.root.read(path, offset, size))
            return self._alloc(caller, data, False) | (len(data) << 32)
        except Exception as exc:
            log.debug("host_fs_read: %s", exc)
            return 0

    def _host_write(self, caller: Any, path_ptr: int, data_ptr: int, length: int) -> int:
        try:
            path = self._host_path(caller, path_ptr)
            data = self._bytes(caller, data_ptr & _MASK32, length & _MASK32)
            reply = self._wait(self.root.write(path, data)).encode()
            return self._alloc(caller, reply, False) | (len(reply) << 32)
        except Exception as exc:
            log.debug("host_fs_write: %s", exc)
            return 0

    def _host_json(self, caller: Any, path_ptr: int, op: Callable[[str], Coroutine]) -> int:
        try:
            path = self._host_path(caller, path_ptr)
            result = self._wait(op(path))
        except Exception as exc:
            return (self._host_error(caller, exc) << 32) & _MASK64
        if isinstance(result, list):
            payload: Any = [_info_to_json(info) for info in result]
        else:
            payload = _info_to_json(result)
        return self._alloc(caller, json.dumps(payload).encode(), True)

    def _host_stat(self, caller: Any, path_ptr: int) -> int:
        return self._host_json(caller, path_ptr, self.root.stat)

    def _host_readdir(self, caller: Any, path_ptr: int) -> int:
        return self._host_json(caller, path_ptr, self.root.readdir)

    def _host_op(self, caller: Any, op: Callable[[], Coroutine]) -> int:
        try:
            self._wait(op())
        except Exception as exc:
            return self._host_error(caller, exc)
        return 0

    def _host_create(self, caller: Any, path_ptr: int) -> int:
        return self._host_op(caller, lambda: self.root.create(self._host_path(caller, path_ptr)))

    def _host_mkdir(self, caller: Any, path_ptr: int, perm: int) -> int:
        return self._host_op(
            caller, lambda: self.root.mkdir(self._host_path(caller, path_ptr), perm & 0o7777)
        )

    def _host_remove(self, caller: Any, path_ptr: int) -> int:
        return self._host_op(caller, lambda: self.root.remove(self._host_path(caller, path_ptr)))

    def _host_remove_all(self, caller: Any, path_ptr: int) -> int:
        return self._host_op(
            caller, lambda: self.root.remove(self._host_path(caller, path_ptr), True)
        )

    def _host_rename(self, caller: Any, old_ptr: int, new_ptr: int) -> int:
        return self._host_op(
            caller,
            lambda: self.root.rename(
                self._host_path(caller, old_ptr), self._host_path(caller, new_ptr)
            ),
        )

    def _host_chmod(self, caller: Any, path_ptr: int, mode: int) -> int:
        return self._host_op(
            caller, lambda: self.root.chmod(self._host_path(caller, path_ptr), mode & _MASK32)
        )


def _first_line(exc: BaseException) -> str:
    """The cause of a wasmtime error or trap (its text ends with ``Caused by: <cause>``)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    cause = text.rpartition("Caused by:")[2].strip() if "Caused by:" in text else text
    return cause.splitlines()[0].strip()


class WasmFS(FileSystem):
    """One mount of a WASM plugin; all mounts of the fstype share the module instance."""

    def __init__(self, plugin: WasmPlugin, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.plugin = plugin
        self.fstype = plugin.fstype  # type: ignore[misc]
        self.host_paths = tuple(config.get(HOST_PATHS_KEY) or ())
        self._started = False

    async def start(self) -> None:
        if self.plugin.released:
            raise FSError(f"plugin {self.fstype} has been unloaded")
        await self.plugin.call(lambda st: self.plugin.mounted(self.config))
        self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            await self.plugin.call(lambda st: self.plugin.unmounted())

    async def _call(self, work: Callable[[Any], Any]) -> Any:
        return await self.plugin.call(work, self.host_paths)

    def _func(self, export: str) -> Any:
        func = self.plugin.funcs.get(export)
        if func is None:
            raise FSError(f"{export} not implemented")
        return func

    def _path(self, st: Any, path: str) -> int:
        return self.plugin._alloc(st, path.encode(), True)

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        func = self._func("fs_read")
        plugin = self.plugin

        def work(st: Any) -> bytes:
            ptr, length = _unpack(func(st, self._path(st, path), offset, size))
            if ptr == 0:
                raise FSError(plugin.last_error(st) or "read failed")
            return plugin._bytes(st, ptr, length)

        return await self._call(work)

    async def open_stream(self, path: str):
        raise no_streaming(self.config, path)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        refuse_partial_write(self.fstype, path, offset, flags)
        func = self._func("fs_write")
        plugin = self.plugin

        def work(st: Any) -> str:
            data_ptr = plugin._alloc(st, data, False)
            ptr, length = _unpack(func(st, self._path(st, path), data_ptr, len(data)))
            if ptr == 0:
                raise FSError(plugin.last_error(st) or "write failed")
            return plugin._bytes(st, ptr, length).decode("utf-8", "replace")

        return await self._call(work)

    async def _json_call(self, export: str, path: str) -> Any:
        func = self._func(export)
        plugin = self.plugin

        def work(st: Any) -> Any:
            json_ptr, err_ptr = _unpack(func(st, self._path(st, path)))
            if err_ptr:
                raise FSError(plugin._cstr(st, err_ptr) or f"{export[3:]} failed")
            if json_ptr == 0:
                return None
            text = plugin._cstr(st, json_ptr)
            try:
                return json.loads(text)
            except ValueError as exc:
                raise FSError(f"failed to unmarshal {export[3:]} result: {exc}") from None

        return await self._call(work)

    async def stat(self, path: str) -> FileInfo:
        result = await self._json_call("fs_stat", path)
        if result is None:
            raise FSError("stat returned null")
        return _info_from_json(result)

    async def readdir(self, path: str) -> list[FileInfo]:
        result = await self._json_call("fs_readdir", path)
        if result is None:
            return []
        if not isinstance(result, list):
            raise FSError("failed to unmarshal readdir result: expected an array")
        return [_info_from_json(item) for item in result]

    async def _err_call(self, export: str, fallback: str, *args: Any) -> None:
        func = self._func(export)
        plugin = self.plugin

        def work(st: Any) -> str:
            converted = [self._path(st, a) if isinstance(a, str) else a for a in args]
            ptr = func(st, *converted) & _MASK32
            if ptr == 0:
                return ""
            try:
                return plugin._cstr(st, ptr) or fallback
            except FSError:
                return fallback

        error = await self._call(work)
        if error:
            raise FSError(error)

    async def create(self, path: str) -> None:
        await self._err_call("fs_create", "create failed", path)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._err_call("fs_mkdir", "mkdir failed", path, mode)

    async def remove(self, path: str, recursive: bool = False) -> None:
        if recursive and "fs_remove_all" in self.plugin.funcs:
            await self._err_call("fs_remove_all", "remove_all failed", path)
        else:
            await self._err_call("fs_remove", "remove failed", path)

    async def rename(self, old: str, new: str) -> None:
        await self._err_call("fs_rename", "rename failed", old, new)

    async def chmod(self, path: str, mode: int) -> None:
        if "fs_chmod" not in self.plugin.funcs:
            return
        await self._err_call("fs_chmod", "chmod failed", path, mode & _MASK32)
