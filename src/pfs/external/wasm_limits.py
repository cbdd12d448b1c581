"""Limits of WASM plugins, checked in the server's config whether or not wasmtime (the ``wasm``
extra) is installed."""

from __future__ import annotations

from dataclasses import dataclass


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
