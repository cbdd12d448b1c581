"""pfs.external.wasm.fastcall on a small module: values through the raw call, a call re-entered
from a host function, traps, and guest memory that grows (and moves) between accesses. Each test
runs on both ways in: the C extension ``_guestcall`` and the ctypes classes (its fallback)."""

from __future__ import annotations

import ctypes
import threading
import time

import pytest
import wasmtime

from pfs.external.wasm import fastcall
from pfs.external.wasm.fastcall import (
    STRING_PROBE,
    GuestFunc,
    GuestMemory,
    guest_func,
    guest_memory,
)

MODULE = """
(module
  (import "env" "back" (func $back (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "neg") (result i32) (i32.const -1))
  (func (export "echo32") (param i32) (result i32) (local.get 0))
  (func (export "echo64") (param i64) (result i64) (local.get 0))
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "nothing"))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  ;; sum(n) = n + back(n - 1) for n > 0, 0 for 0, a trap below 0; back calls sum from the host.
  (func (export "sum") (param i32) (result i32)
    (if (i32.lt_s (local.get 0) (i32.const 0)) (then (unreachable)))
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (local.get 0) (call $back (i32.sub (local.get 0) (i32.const 1)))))))
)
"""


@pytest.fixture(params=["c", "ctypes"])
def way(request) -> str:
    return request.param


class Guest:
    """The module instantiated in its own store; ``way``: exports and memory through the C
    extension ("c") or ctypes; ``memory_may_move``: a store whose memory reserves no room to
    grow in place, so growing it moves it."""

    def __init__(self, way: str, memory_may_move: bool = False) -> None:
        config = wasmtime.Config()
        if memory_may_move:
            config.memory_reservation = 0
            config.memory_reservation_for_growth = 0
            config.memory_guard_size = 0
        self.store = wasmtime.Store(wasmtime.Engine(config))
        self.handle = fastcall.store_handle(self.store)
        self.nested_traps: list[str] = []
        back = wasmtime.Func(
            self.store,
            wasmtime.FuncType([wasmtime.ValType.i32()], [wasmtime.ValType.i32()]),
            self._back,
            access_caller=True,
        )
        module = wasmtime.Module(self.store.engine, MODULE)
        exports = wasmtime.Instance(self.store, module, [back]).exports(self.store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        if way == "c":
            self.memory = guest_memory(memory)
            self.funcs = {
                name: guest_func(item, self.store, self.handle)
                for name, item in exports.items()
                if isinstance(item, wasmtime.Func)
            }
            assert type(self.memory).__module__ == "pfs.external.wasm._guestcall"
            assert all(type(f).__module__ == type(self.memory).__module__
                       for f in self.funcs.values())
            return
        self.memory = GuestMemory(memory)
        self.funcs = {
            name: GuestFunc(item, self.store, self.handle)
            for name, item in exports.items()
            if isinstance(item, wasmtime.Func)
        }

    def _back(self, caller: wasmtime.Caller, n: int) -> int:
        # A nested call of the same export that traps, then one that answers.
        try:
            self.funcs["sum"](caller, -1)
        except wasmtime.Trap as exc:
            self.nested_traps.append(str(exc))
        return self.funcs["sum"](caller, n)


def test_values_through_the_raw_call(way):
    guest = Guest(way)
    f, st = guest.funcs, guest.handle
    assert all(func.fast for func in f.values())
    assert f["neg"](st) == -1
    assert [f["echo32"](st, v) for v in (0, 7, -7, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)] == [
        0, 7, -7, 0x7FFFFFFF, -0x80000000, -1]
    # An i32 result after an i64 argument in the same slot: only the low half is the result.
    assert f["echo64"](st, (5 << 32) | 3) == (5 << 32) | 3
    assert f["echo32"](st, 3) == 3
    assert [f["echo64"](st, v) for v in (-5, (1 << 63) - 1, (1 << 64) - 1, 1 << 63)] == [
        -5, (1 << 63) - 1, -1, -(1 << 63)]
    assert f["add"](st, -1, 10) == 9
    assert f["nothing"](st) is None
    with pytest.raises(wasmtime.WasmtimeError, match="expected 2 arguments, got 1"):
        f["add"](st, 1)


def test_calls_reentered_from_a_host_function_keep_their_own_results(way):
    """sum(3) runs sum(2) from its host function while it is in progress, and so on down; each
    level also runs a nested sum that traps. Every level gets its own result, and a nested trap
    is not taken for the outer call's."""
    guest = Guest(way)
    assert guest.funcs["sum"](guest.handle, 3) == 3 + 2 + 1
    assert len(guest.nested_traps) == 3
    with pytest.raises(wasmtime.Trap):
        guest.funcs["sum"](guest.handle, -1)
    # After a trap, calls go on normally (the trapped call's slots were not reused).
    assert guest.funcs["sum"](guest.handle, 0) == 0
    assert guest.funcs["echo32"](guest.handle, 4) == 4


def _base(guest: Guest) -> int:
    ref = ctypes.addressof(guest.memory.memory._memory)
    return fastcall._memory_data(guest.handle, ref)


@pytest.mark.parametrize("memory_may_move", [False, True])
def test_memory_seen_anew_after_it_grows(way, memory_may_move):
    guest = Guest(way, memory_may_move)
    memory, st, grow = guest.memory, guest.handle, guest.funcs["grow"]
    page = 65536
    memory.write(st, b"kept", 100)
    assert memory.size(st) == page
    with pytest.raises(IndexError):
        memory.write(st, b"x", page)
    bases = {_base(guest)}
    for pages in range(1, 9):
        assert grow(st, 4) == pages * 4 - 3  # the old size in pages
        size = memory.size(st)
        assert size == (pages * 4 + 1) * page
        memory.write(st, b"end", size - 3)
        assert memory.read(st, size - 3, size) == b"end"
        assert memory.read(st, 100, 104) == b"kept"
        with pytest.raises(IndexError):
            memory.read(st, size - 2, size + 1)
        bases.add(_base(guest))
    if memory_may_move:
        assert len(bases) > 1, "the memory never moved: the test proves nothing"


def test_guest_strings_of_any_length(way):
    guest = Guest(way)
    memory, st = guest.memory, guest.handle
    size = memory.size(st)
    for length in (0, 1, STRING_PROBE - 1, STRING_PROBE, STRING_PROBE + 1, 3 * STRING_PROBE,
                   5000):
        text = bytes(65 + i % 26 for i in range(length))
        memory.write(st, text + b"\0", 1000)
        assert memory.string(st, 1000) == text
    memory.write(st, b"x" * 10, size - 10)  # no NUL before memory ends
    with pytest.raises(IndexError):
        memory.string(st, size - 10)
    for start in (size, size + 1, -1):
        with pytest.raises(IndexError):
            memory.string(st, start)


def test_bad_arguments_are_refused_before_the_guest_runs(way):
    guest = Guest(way)
    f, memory, st = guest.funcs, guest.memory, guest.handle
    with pytest.raises(TypeError):
        f["echo32"](st, "7")
    with pytest.raises(wasmtime.WasmtimeError, match="expected 1 arguments, got 2"):
        f["echo32"](st, 1, 2)
    memory.write(st, b"abc", 10)
    for start, stop in ((11, 10), (-1, 2), (0, memory.size(st) + 1)):
        with pytest.raises(IndexError):
            memory.read(st, start, stop)
    with pytest.raises(IndexError):
        memory.write(st, b"x", -1)
    with pytest.raises(TypeError):
        memory.write(st, "text", 0)
    assert memory.read(st, 10, 13) == b"abc"


@pytest.mark.parametrize("in_c", [True, False], ids=["c", "ctypes"])
def test_deadline_setter_sets_the_store_deadline_from_now(monkeypatch, in_c):
    if not in_c:
        monkeypatch.setattr(fastcall, "set_epoch_deadline", None)
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    module = wasmtime.Module(
        engine, '(module (func (export "spin") (param i32) (loop (br_if 0 (local.get 0)))))'
    )
    spin = wasmtime.Instance(store, module, []).exports(store)["spin"]
    assert isinstance(spin, wasmtime.Func)
    renew = fastcall.deadline_setter(store, fastcall.store_handle(store), 2)
    for _ in range(5):
        engine.increment_epoch()
    renew()  # two ticks from now, not from when the store was made
    spin(store, 0)
    engine.increment_epoch()
    spin(store, 0)
    engine.increment_epoch()
    with pytest.raises(wasmtime.Trap) as trap:
        spin(store, 0)
    assert trap.value.trap_code == wasmtime.TrapCode.INTERRUPT


def test_a_slow_export_releases_the_gil_from_its_next_call_on():
    """An Export that may keep the GIL keeps it while its calls are quick; once they average
    over RELEASE_AFTER, other threads run beside its calls. (No epoch ticks here: a call that
    keeps the GIL stops every other thread until it returns.)"""
    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, """
        (module (func (export "spin") (param i64)
          (loop (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
                (br_if 0 (i64.gt_s (local.get 0) (i64.const 0))))))""")
    func = wasmtime.Instance(store, module, []).exports(store)["spin"]
    assert isinstance(func, wasmtime.Func)
    handle = fastcall.store_handle(store)
    spin = guest_func(func, store, handle, keep_gil=True)
    assert spin.seconds == 0.0
    spin(handle, 10)
    assert spin.seconds < fastcall.RELEASE_AFTER
    # Another thread notes each time it went over a millisecond without running.
    pauses: list[tuple[float, float]] = []
    stop = threading.Event()

    def watch() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            if now - last > 0.001:
                pauses.append((last, now))
            last = now

    def timed_spin() -> tuple[float, float]:
        """(how long the call took, the watcher's longest pause within it)"""
        start = time.perf_counter()
        spin(handle, 100_000_000)  # some 50 ms of guest work
        end = time.perf_counter()
        time.sleep(0.01)  # the watcher notes the pause that ended when the call did
        within = [min(b, end) - max(a, start) for a, b in list(pauses)]
        return end - start, max(within, default=0.0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(0.01)
        kept_took, kept_pause = timed_spin()  # quick so far: keeps the GIL
        assert spin.seconds > fastcall.RELEASE_AFTER
        released_took, released_pause = timed_spin()  # now known to be slow: releases it
    finally:
        stop.set()
        watcher.join()
    assert kept_pause >= 0.8 * kept_took
    assert released_pause < 0.5 * released_took
