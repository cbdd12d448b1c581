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

Modules, imports pointing down the list: ``plugin`` (the module instance and its thread), ``fs``
(a mount), ``host`` (host functions), ``reentry`` (re-entrant call hand-off), ``fastcall`` (the
ctypes path into wasmtime's C API), ``runtime`` (the shared engine and limits), ``abi`` (guest
values and FileInfo JSON).
"""

from pfs.external.wasm.plugin import WasmPlugin
from pfs.external.wasm.runtime import WasmLimits, WasmRuntime

__all__ = ["WasmLimits", "WasmPlugin", "WasmRuntime"]
