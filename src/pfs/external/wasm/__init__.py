"""WASM plugins in wasmtime, with the original server's guest ABI (WASM_ABI.md, pfs_plugin.h) and
AGFS's (AGFS.md §7: 5-argument ``fs_write``, ``handle_*``, shared buffers, host frees,
``host_http_request``), told apart by ``fs_write``'s type.

Sandbox: WASI without preopened directories (no file system, no network); every guest call runs
under an epoch deadline (``call_timeout``) and the store's memory is capped (``memory_limit``), so a
loop, a trap or a runaway allocation ends that call with an error while the server and the module
stay up. The ``env.host_fs_*`` imports reach the PFS namespace, but only below the prefixes in the
calling mount's ``host_paths`` config key; ``host_http_request`` only the hosts in its
``http_allowed_hosts``.

A mounted plugin is served by a pool of instances (``instance_pool_size``), each running its
calls one at a time on its own thread (a wasmtime call releases the GIL) under a re-entrant lock.
A host function waits for the namespace operation it started on the event loop; when that
operation calls back into an instance that the waiting thread already holds (the plugin's own
mount, or a cycle of plugins), the call is handed to the waiting thread and runs there, so
re-entrant calls never deadlock.

Modules, imports pointing down the list: ``plugin`` (the compiled module, its probe instance and
pool), ``fs`` (a mount), ``handles`` (AGFS file handles), ``pool`` (the instance pool),
``instance`` (one instance, its thread and memory), ``host`` (host functions), ``http_request``
(``host_http_request``), ``reentry`` (re-entrant call hand-off), ``fastcall`` (the ctypes path into
wasmtime's C API), ``runtime`` (the shared engine and limits), ``abi`` (guest values, ABI
generation, FileInfo JSON).
"""

from pfs.external.wasm.plugin import WasmPlugin
from pfs.external.wasm.runtime import WasmLimits, WasmRuntime

__all__ = ["WasmLimits", "WasmPlugin", "WasmRuntime"]
