"""Guest calls and memory access straight through wasmtime's C API (ctypes), skipping the
per-call type conversions of wasmtime-py's public API.

This reaches into wasmtime-py internals (``wasmtime._ffi``, ``Func._func``, ``Memory._memory``,
``Store._context``), so pyproject.toml pins wasmtime's major version and
tests/external/test_external_wasm.py checks that ``FAST`` holds. Where the internals are missing,
every call falls back to the public API: correct, but ~90 µs a call instead of a few.
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime

from pfs.external.wasm.abi import I32, I64, MASK32

try:  # the C-API bindings wasmtime-py is built on
    from wasmtime import _ffi
except ImportError:  # pragma: no cover - other wasmtime-py layouts
    _ffi = None


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
#: Whether the C functions were found: guest calls and memory access take the fast path.
FAST = None not in (_func_call, _memory_data, _memory_size, _set_deadline)
#: ``wasmtime_val_raw_t`` is a 16-byte union: one value per two int64 slots, low bytes first.
_RAW_SLOTS = 2


def store_handle(store: wasmtime.Store) -> Any:
    """What guest work receives: the store's context address on the fast path (stable for the
    store's life), else the store itself."""
    return ctypes.addressof(store._context().contents) if FAST else store


def set_epoch_deadline(store: wasmtime.Store, handle: Any, ticks: int) -> None:
    if FAST:
        _set_deadline(handle, ticks)
    else:
        store.set_epoch_deadline(ticks)


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
        ints = (str(I32), str(I64))
        fast = FAST and all(k in ints for k in params + results) and self.nresults <= 1
        self.result_i64 = bool(results) and results[0] == str(I64)
        self._ref = ctypes.addressof(func._func) if fast else None
        slots = max(self.nparams, self.nresults, 1) * _RAW_SLOTS
        self._raw_t = ctypes.c_int64 * slots

    @property
    def fast(self) -> bool:
        return self._ref is not None

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
            _context_address(st),
            self._ref,
            ctypes.addressof(raw),
            len(raw) // _RAW_SLOTS,
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
        return value if self.result_i64 else ctypes.c_int32(value & MASK32).value


class GuestMemory:
    """The exported linear memory, read and written with memmove (bounds-checked)."""

    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory
        self._ref = ctypes.addressof(memory._memory) if FAST else None

    @property
    def fast(self) -> bool:
        return self._ref is not None

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
