"""The engine all WASM plugins share: its limits, epoch ticker and threads for compiling.

Two ways to tick, one behaviour (a guest call ends at its deadline; other threads keep running):
- sliced (the C extension ``_ticker`` is built): a native thread bumps the epoch every switch
  interval without the GIL, so guest calls keep the GIL; each tick passes the running call's
  deadline, and its store's callback hands the GIL over, as Python threads do, and ends the call
  once its time is up. A short call never touches the GIL. The thread ticks only while calls
  start or run (``poke``): idle, it sleeps.
- unsliced (no C compiler at install): a Python thread ticks, so guest calls must release the
  GIL; taking it back after each call costs more than a short call itself.
"""

from __future__ import annotations

import math
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import wasmtime

from pfs.external.wasm import fastcall
from pfs.external.wasm_limits import WasmLimits

try:
    from pfs.external.wasm._ticker import Ticker as NativeTicker
except ImportError:  # pragma: no cover - installed without a C compiler
    NativeTicker = None


class WasmRuntime:
    """The engine all WASM plugins share, its epoch ticker, and threads for compiling modules."""

    def __init__(self, limits: WasmLimits, native_ticker: bool = True) -> None:
        """``native_ticker``: slice guest calls where the extension allows (False: the Python
        ticker, as where it is not built)."""
        self.limits = limits
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pfs-wasm-load")
        #: Whether guest calls keep the GIL and are sliced at each tick (see the module doc).
        self.sliced = native_ticker and NativeTicker is not None and fastcall.SLICES
        if self.sliced:
            # A slice as long as a Python thread's: a long guest call shares the GIL as fairly.
            self.tick = sys.getswitchinterval()
            self.deadline_ticks = 1
            self._native = NativeTicker(
                *fastcall.engine_ticker_target(self.engine), self.tick, self.engine
            )
            #: Say a guest call started or still runs (at its outermost start and every tick).
            self.poke = self._native.poke
        else:
            # A twentieth of the deadline (5 s → 0.25 s): deadlines end at most 5 % late, and an
            # idle server wakes the ticker only a few times a second.
            self.tick = min(max(limits.call_timeout / 20, 0.005), 0.25)
            self.deadline_ticks = math.ceil(limits.call_timeout / self.tick) + 1
            self._stop = threading.Event()
            threading.Thread(target=self._tick, name="pfs-wasm-epoch", daemon=True).start()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            self.engine.increment_epoch()

    def close(self) -> None:
        if self.sliced:
            self._native.stop()
        else:
            self._stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)


def first_line(exc: BaseException) -> str:
    """The cause of a wasmtime error or trap (its text ends with ``Caused by: <cause>``)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    cause = text.rpartition("Caused by:")[2].strip() if "Caused by:" in text else text
    return cause.splitlines()[0].strip()
