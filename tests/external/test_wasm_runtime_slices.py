"""The WASM runtime's two ways to tick (pfs.external.wasm.runtime): under the native ticker a guest
call keeps the GIL and hands it over at every tick; under the Python ticker it releases the GIL.
Either way a runaway call ends at its deadline while the event loop and other threads go on."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest
import wasmtime

from pfs.external.wasm import WasmLimits, WasmPlugin, WasmRuntime, fastcall
from pfs.external.wasm.runtime import NativeTicker
from pfs.fs import validate_config
from pfs.fs.errors import Timeout
from pfs.plugins.memfs import MemFS
from tests.helpers.external import built_plugins


@pytest.fixture(scope="module")
def badwasm(tmp_path_factory):
    return built_plugins(tmp_path_factory)["badwasm"].read_bytes()

def test_the_c_extensions_are_built():
    """Both extensions build wherever the tests run (gcc is a test dependency); without them
    the server still works, on the slower ctypes and unsliced paths."""
    assert NativeTicker is not None
    assert fastcall.Export is not None and fastcall.Memory is not None
    runtime = WasmRuntime(WasmLimits())
    try:
        assert runtime.sliced
    finally:
        runtime.close()

def test_ticker_calls_the_function_while_poked_until_stopped():
    engine = wasmtime.Engine(_epoch_config())
    store = wasmtime.Store(engine)
    spin = _spinner(store)
    ticker = NativeTicker(*fastcall.engine_ticker_target(engine), 0.002, engine)
    try:
        time.sleep(0.05)
        assert ticker.running and ticker.ticks == 0  # never poked: asleep
        store.set_epoch_deadline(5)
        done = threading.Event()

        def keep_poking() -> None:  # as the runtime does while a call runs
            while not done.is_set():
                ticker.poke()
                time.sleep(0.001)

        poker = threading.Thread(target=keep_poking)
        poker.start()
        try:
            with pytest.raises(wasmtime.Trap) as trap:
                spin(store)  # only the ticker's epochs can end it
        finally:
            done.set()
            poker.join()
        assert trap.value.trap_code == wasmtime.TrapCode.INTERRUPT
        assert ticker.ticks >= 5
        time.sleep(0.02)  # an interval without a poke: asleep again
        asleep_at = ticker.ticks
        time.sleep(0.05)
        assert ticker.ticks == asleep_at
        ticker.poke()  # wakes it: one interval later it ticks
        time.sleep(0.05)
        assert ticker.ticks == asleep_at + 1
    finally:
        ticker.stop()
    stopped_at = ticker.ticks
    ticker.poke()
    time.sleep(0.02)
    assert not ticker.running and ticker.ticks == stopped_at
    ticker.stop()  # a second stop is a no-op


def test_ticker_keeps_its_owner_until_stopped():
    class Owner:
        pass

    owner = Owner()
    alive = weakref.ref(owner)
    engine = wasmtime.Engine(_epoch_config())
    ticker = NativeTicker(*fastcall.engine_ticker_target(engine), 0.01, owner)
    del owner
    gc.collect()
    assert alive() is not None
    ticker.stop()
    gc.collect()
    assert alive() is None

@pytest.mark.parametrize("args, message", [
    ((0, 0, 0.01), "function address is null"),
    ((1, 0, 0.0), "interval must be between"),
    ((1, 0, float("nan")), "interval must be between"),
])
def test_ticker_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        NativeTicker(*args)

@pytest.mark.parametrize("native", [True, False], ids=["sliced", "python-ticker"])
def test_runaway_call_ends_at_its_deadline_and_the_loop_keeps_running(badwasm, native):
    runtime = WasmRuntime(WasmLimits(call_timeout=0.4), native_ticker=native)
    assert runtime.sliced is native

    async def scenario() -> tuple[str, int, int]:
        host = MemFS(validate_config("memfs", MemFS.config_schema, {}))
        plugin = WasmPlugin("badwasm", badwasm, runtime, host, asyncio.get_running_loop())
        fs = plugin(plugin.check_config({}))
        await fs.start()
        beats = 0
        other_thread = [0]
        stop = threading.Event()

        def count() -> None:  # another Python thread: runs only while it can get the GIL
            while not stop.is_set():
                other_thread[0] += 1
                time.sleep(0.001)

        counter = threading.Thread(target=count)
        try:
            call = asyncio.ensure_future(fs.read("/loop"))
            counter.start()
            while not call.done():
                await asyncio.sleep(0.01)
                beats += 1
            with pytest.raises(Timeout) as error:
                await call
            assert await fs.read("/ok") == b"ok\n"  # the instance is still usable
            return error.value.message, beats, other_thread[0]
        finally:
            stop.set()
            counter.join()
            await fs.shutdown()
            await plugin.aclose()

    try:
        message, beats, other = asyncio.run(scenario())
    finally:
        runtime.close()
    assert message == "wasm plugin badwasm: call exceeded its deadline of 0.4s and was stopped"
    # While the guest spun for 0.4 s, the event loop woke about 40 times and the other thread
    # about 400; without the GIL handed over, neither would have run at all.
    assert beats >= 4 and other >= 4

def _epoch_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = True
    return config

def _spinner(store: wasmtime.Store) -> wasmtime.Func:
    module = wasmtime.Module(store.engine, '(module (func (export "spin") (loop br 0)))')
    spin = wasmtime.Instance(store, module, []).exports(store)["spin"]
    assert isinstance(spin, wasmtime.Func)
    return spin

