"""External plugins: native shared libraries (the original C ABI) and WASM modules (wasmtime).

``pfs_plugin.h`` in this package documents the ABI for plugin authors.
"""
