"""Guest calls and memory access straight through wasmtime's C API, skipping the per-call type
conversions of wasmtime-py's public API: from C (the extension ``_guestcall``, ~0.1 µs a call)
where it was built, else through ctypes (~0.8 µs).

This reaches into wasmtime-py internals (``wasmtime._ffi``, ``Func._func``, ``Memory._memory``,
``Store._context``), so pyproject.toml pins wasmtime's major version and
tests/external/test_external_wasm.py checks that ``FAST`` holds. Where the internals are missing,
every call falls back to the public API: correct, but ~90 µs a call instead of a few.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

import wasmtime

from pfs.external.wasm.abi import I32, I64

try:  # the C-API bindings wasmtime-py is built on
    from wasmtime import _ffi
except ImportError:  # pragma: no cover - other wasmtime-py layouts
    _ffi = None

try:
    from pfs.external.wasm._guestcall import Export, Memory, set_epoch_deadline
except ImportError:  # pragma: no cover - installed without a C compiler
    Export = Memory = set_epoch_deadline = None


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
# Declared without parameter types, these take prebuilt ctypes objects (``c_void_p``,
# ``c_size_t``, ``c_uint64``) as they are, which skips ctypes' per-argument conversion (a fifth
# of a call). The guest call comes twice: releasing the GIL, for a runtime whose epoch ticker
# is a Python thread, and keeping it, for one ticked natively whose calls hand the GIL over at
# each tick (see runtime.py).
_func_call = _c_function("wasmtime_func_call_unchecked", _vp)
_func_call_keeping_gil = _c_function("wasmtime_func_call_unchecked", _vp, keep_gil=True)
_set_deadline = _c_function("wasmtime_context_set_epoch_deadline", None, keep_gil=True)
_memory_data = _c_function("wasmtime_memory_data", _vp, _vp, _vp, keep_gil=True)
_memory_size = _c_function("wasmtime_memory_data_size", _size, _vp, _vp, keep_gil=True)
#: wasmtime_store_epoch_deadline_callback's callback: (context, data, deadline delta out,
#: update kind out) -> a wasmtime_error_t* (0 to go on).
_DEADLINE_CALLBACK = ctypes.CFUNCTYPE(
    _size, _vp, _vp, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint8)
)
_set_deadline_callback = _c_function(
    "wasmtime_store_epoch_deadline_callback", None, _vp, _DEADLINE_CALLBACK, _vp, _vp,
    keep_gil=True,
)
_error_new = _c_function("wasmtime_error_new", _size, ctypes.c_char_p, keep_gil=True)
#: WASMTIME_UPDATE_DEADLINE_CONTINUE: extend the deadline and go on (no async yield).
_CONTINUE = 0
#: A writable memoryview of raw memory (address, size, PyBUF_WRITE), with no ctypes array type
#: per size (ctypes keeps every array type it made).
_memory_view = ctypes.PYFUNCTYPE(ctypes.py_object, _vp, ctypes.c_ssize_t, ctypes.c_int)(
    ("PyMemoryView_FromMemory", ctypes.pythonapi)
)
_PYBUF_WRITE = 0x200
#: Whether the C functions were found: guest calls and memory access take the fast path.
FAST = None not in (_func_call, _memory_data, _memory_size, _set_deadline)
#: Whether a store can be given a deadline callback (for guest calls that keep the GIL).
SLICES = FAST and None not in (_func_call_keeping_gil, _set_deadline_callback, _error_new)
#: An export that may keep the GIL releases it once its calls average longer than this
#: (seconds): beyond it, running beside the event loop gains more than taking the GIL back costs.
RELEASE_AFTER = 0.0001
#: ``wasmtime_val_raw_t`` is a 16-byte union: one value per two int64 slots, low bytes first.
_RAW_SLOTS = 2
#: How far a guest string's NUL is looked for first (most strings are paths or short JSON).
STRING_PROBE = 256


def store_handle(store: wasmtime.Store) -> Any:
    """What guest work receives: the store's context address on the fast path (stable for the
    store's life), else the store itself."""
    return ctypes.addressof(store._context().contents) if FAST else store


def deadline_setter(store: wasmtime.Store, handle: Any, ticks: int) -> Callable[[], None]:
    """What sets the store's epoch deadline ``ticks`` ticks from now."""
    if FAST and set_epoch_deadline is not None:
        function = _address(_ffi.dll.wasmtime_context_set_epoch_deadline)
        return functools.partial(set_epoch_deadline, function, handle, ticks)
    if FAST:
        return functools.partial(_set_deadline, ctypes.c_void_p(handle), ctypes.c_uint64(ticks))
    return functools.partial(store.set_epoch_deadline, ticks)


def engine_ticker_target(engine: wasmtime.Engine) -> tuple[int, int]:
    """(address of wasmtime_engine_increment_epoch, the engine's address): what a native ticker
    calls, off the GIL (the C API documents it as safe from any thread)."""
    function = ctypes.cast(_ffi.dll.wasmtime_engine_increment_epoch, ctypes.c_void_p).value
    engine_address = ctypes.cast(engine.ptr(), ctypes.c_void_p).value
    if not function or not engine_address:
        raise RuntimeError("wasmtime engine has no address")
    return function, engine_address


def on_epoch_deadline(store: wasmtime.Store, on_tick: Callable[[], bool]) -> Any:
    """Have ``on_tick()`` run each time the store's epoch deadline passes during a guest call:
    True extends the deadline by one tick and lets the guest go on; False ends the call with an
    error (the caller knows why). Returns what must be kept alive as long as the store."""

    def callback(_context: Any, _data: Any, delta: Any, kind: Any) -> int:
        if not on_tick():
            return _error_new(b"epoch deadline: call stopped by the host")
        delta[0] = 1
        kind[0] = _CONTINUE
        return 0

    handle = _DEADLINE_CALLBACK(callback)
    _set_deadline_callback(ctypes.cast(store.ptr(), ctypes.c_void_p), handle, None, None)
    return handle


def _context_address(st: Any) -> int:
    return st if type(st) is int else ctypes.addressof(st._context().contents)


def _address(function: Any) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value or 0


def _raise_failure(error: int | None, trap: int | None, message: str | None) -> None:
    """What a failed C-level guest call raises: the wasmtime error or trap it left, as
    wasmtime-py raises them (it takes their ownership), or WasmtimeError(message)."""
    if error:
        raise wasmtime.WasmtimeError._from_ptr(
            ctypes.cast(error, ctypes.POINTER(_ffi.wasmtime_error_t))
        )
    if trap:
        raise wasmtime.Trap._from_ptr(ctypes.cast(trap, ctypes.POINTER(_ffi.wasm_trap_t)))
    raise wasmtime.WasmtimeError(message or "guest call failed")


def guest_func(
    func: wasmtime.Func, store: wasmtime.Store, handle: Any, keep_gil: bool = False
) -> Any:
    """``func`` as called by the host: ``export(st, *args)`` with ``.nparams``, ``.nresults``,
    ``.fast`` and ``.func``. The C extension's Export where it was built and the signature is
    ours (i32/i64 only, at most one result), else a :class:`GuestFunc`.

    ``handle``: the store's :func:`store_handle`; ``keep_gil``: as for GuestFunc, except that
    the Export releases the GIL for as long as its calls average over ``RELEASE_AFTER``."""
    ctype = GuestFunc(func, store, handle, keep_gil)
    if Export is None or not ctype.fast:
        return ctype
    return Export(
        call=_address(_ffi.dll.wasmtime_func_call_unchecked),
        func=ctypes.addressof(func._func),
        owner=func,
        handle=handle,
        context=handle,
        context_of=_context_address,
        on_failure=_raise_failure,
        nparams=ctype.nparams,
        nresults=ctype.nresults,
        result_bits=0 if ctype._result_t is None else 8 * ctypes.sizeof(ctype._result_t),
        keep_gil=keep_gil and SLICES,
        release_after=RELEASE_AFTER,
    )


def guest_memory(memory: wasmtime.Memory) -> Any:
    """``memory`` as the host reads and writes it (``size``, ``read``, ``write``, ``string``,
    ``.fast``, ``.memory``): the C extension's Memory where it was built, else a
    :class:`GuestMemory`."""
    if Memory is None or not FAST:
        return GuestMemory(memory)
    return Memory(
        data=_address(_ffi.dll.wasmtime_memory_data),
        size=_address(_ffi.dll.wasmtime_memory_data_size),
        memory=ctypes.addressof(memory._memory),
        owner=memory,
        context_of=_context_address,
    )


#: One call's argument/result array, its address, its trap slot's address, the trap slot and
#: the result (a view of the array's first value as the result's type, None for no result).
_CallSlots = tuple[ctypes.Array, Any, Any, ctypes.c_void_p, Any]


class GuestFunc:
    """A guest export called through wasmtime's C API directly, by ctypes.

    ``wasmtime.Func.__call__`` re-derives the signature and converts every value through Python
    objects on each call (~90 µs). Our exports take and return only i32/i64, checked once here,
    so the unchecked raw call is safe and costs well under a µs. Falls back to the public call
    when the private bindings are not there (another wasmtime-py version) or for other
    signatures.
    """

    __slots__ = (
        "func", "nparams", "nresults", "_result_t", "_ref", "_raw_t", "_count", "_args",
        "_handle", "_context", "_spare", "_call",
    )

    def __init__(
        self, func: wasmtime.Func, store: wasmtime.Store, handle: Any, keep_gil: bool = False
    ) -> None:
        """``handle``: the store's :func:`store_handle`, which calls on the store pass;
        ``keep_gil``: calls keep the GIL (the store must have an :func:`on_epoch_deadline`
        that hands it over, or a long call would stall every other thread)."""
        self.func = func
        ty = func.type(store)
        params, results = [str(p) for p in ty.params], [str(r) for r in ty.results]
        self.nparams = len(params)
        self.nresults = len(results)
        ints = (str(I32), str(I64))
        fast = FAST and all(k in ints for k in params + results) and self.nresults <= 1
        # An i32 result fills only the low 4 bytes of its value: the rest is what it held before.
        result_t = ctypes.c_int64 if results and results[0] == str(I64) else ctypes.c_int32
        self._result_t = result_t if results else None
        self._ref = ctypes.c_void_p(ctypes.addressof(func._func)) if fast else None
        values = max(self.nparams, self.nresults, 1)
        self._raw_t = ctypes.c_int64 * (values * _RAW_SLOTS)
        self._count = ctypes.c_size_t(values)
        #: The arguments' int64s: the first of each value's two.
        self._args = slice(0, self.nparams * _RAW_SLOTS, _RAW_SLOTS)
        self._handle = handle
        self._context = ctypes.c_void_p(handle) if fast else None
        #: Slots of finished calls, for the next call to reuse; a call re-entered through a host
        #: function while another is in progress takes its own, and a failed call's are dropped.
        self._spare: list[_CallSlots] = []
        self._call = _func_call_keeping_gil if keep_gil and SLICES else _func_call

    @property
    def fast(self) -> bool:
        return self._ref is not None

    def _new_slots(self) -> _CallSlots:
        raw, trap, result_t = self._raw_t(), ctypes.c_void_p(), self._result_t
        return (
            raw,
            ctypes.c_void_p(ctypes.addressof(raw)),
            ctypes.c_void_p(ctypes.addressof(trap)),
            trap,
            None if result_t is None else result_t.from_buffer(raw),
        )

    def __call__(self, st: Any, *args: int) -> Any:
        """``st``: the store's handle, a host function's caller, or the store (slow path)."""
        ref = self._ref
        if ref is None:
            return self.func(st, *args)
        spare = self._spare
        slots = spare.pop() if spare else self._new_slots()
        raw, raw_ptr, trap_ptr, trap, result = slots
        try:
            # i32 arguments live in the low 4 bytes; an int64 store wraps a large unsigned value.
            raw[self._args] = args
        except ValueError:
            _raise_failure(None, None, f"expected {self.nparams} arguments, got {len(args)}")
        context = self._context if st is self._handle else ctypes.c_void_p(_context_address(st))
        error = self._call(context, ref, raw_ptr, self._count, trap_ptr)
        if error or trap.value:
            _raise_failure(error, trap.value, None)
        spare.append(slots)
        return None if result is None else result.value


class GuestMemory:
    """The exported linear memory, read and written through a view of it (bounds-checked)."""

    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory
        self._ref = ctypes.addressof(memory._memory) if FAST else None
        #: The memory's size and a view of it, as last seen. Guest code may grow memory, which
        #: can move it, so every access asks the size again: memory never shrinks and moves
        #: only when it grows, so the same size means the view still covers it.
        self._seen: tuple[int, memoryview] = (0, memoryview(b""))

    @property
    def fast(self) -> bool:
        return self._ref is not None

    def _view(self, st: Any) -> memoryview:
        ctx = st if type(st) is int else _context_address(st)
        size = _memory_size(ctx, self._ref)
        seen_size, view = self._seen
        if size != seen_size:
            view = _memory_view(_memory_data(ctx, self._ref), size, _PYBUF_WRITE)
            self._seen = (size, view)
        return view

    def size(self, st: Any) -> int:
        if self._ref is None:
            return self.memory.data_len(st)
        return len(self._view(st))

    def read(self, st: Any, start: int, stop: int) -> bytes:
        if self._ref is None:
            return bytes(self.memory.read(st, start, stop))
        view = self._view(st)
        if not 0 <= start <= stop <= len(view):
            raise IndexError("out of bounds")
        return view[start:stop].tobytes()

    def write(self, st: Any, data: bytes, start: int) -> None:
        if self._ref is None:
            self.memory.write(st, data, start)
            return
        view = self._view(st)
        stop = start + len(data)
        if not 0 <= start <= stop <= len(view):
            raise IndexError("out of bounds")
        view[start:stop] = data

    def string(self, st: Any, start: int) -> bytes:
        """The bytes from ``start`` up to the next NUL; IndexError if memory ends first."""
        if self._ref is None:
            memory = self.memory
            return _until_nul(
                lambda a, b: bytes(memory.read(st, a, b)), start, memory.data_len(st)
            )
        view = self._view(st)
        if start >= 0:  # most strings end within the probe
            probe = view[start : start + STRING_PROBE].tobytes()
            end = probe.find(0)
            if end >= 0:
                return probe[:end]
        return _until_nul(lambda a, b: view[a:b].tobytes(), start, len(view))


def _until_nul(read: Callable[[int, int], bytes], start: int, size: int) -> bytes:
    """Read from ``start`` until a NUL, first a short probe, then ever longer pieces."""
    if start < 0:
        raise IndexError("out of bounds")
    chunks, pos, step = [], start, STRING_PROBE
    while pos < size:
        chunk = read(pos, min(pos + step, size))
        end = chunk.find(0)
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        pos, step = pos + len(chunk), step * 2
    raise IndexError("no NUL before the end of memory")
