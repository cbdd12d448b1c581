"""The engine all WASM plugins share: its limits, epoch ticker and threads for compiling."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import wasmtime

from pfs.external.wasm_limits import WasmLimits


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


def first_line(exc: BaseException) -> str:
    """The cause of a wasmtime error or trap (its text ends with ``Caused by: <cause>``)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    cause = text.rpartition("Caused by:")[2].strip() if "Caused by:" in text else text
    return cause.splitlines()[0].strip()
