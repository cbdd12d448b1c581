"""The engine all WASM plugins share: its limits, epoch ticker and threads for compiling."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import wasmtime


@dataclass(frozen=True)
class WasmLimits:
    call_timeout: float = 5.0
    memory_limit: int = 64 << 20
    #: Run calls of mounts without host access on the event loop: no thread hop, but a runaway
    #: call stalls the whole server until its deadline. For trusted plugins only.
    inline_calls: bool = False
    #: Instances of one module serving requests at once (AGFS ``instance_pool_size``).
    pool_size: int = 10
    #: Seconds an instance serves before it is replaced at its next acquisition (0: no limit).
    max_lifetime: float = 0.0
    #: Acquisitions an instance serves before it is replaced (0: no limit).
    max_requests: int = 0
    #: Seconds a call waits for a free instance before failing (503).
    acquire_timeout: float = 30.0
    #: Largest ``host_http_request`` response body handed to a guest.
    http_max_response: int = 8 << 20


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
