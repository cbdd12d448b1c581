"""The C extensions, both for WASM plugins: the runtime's epoch ticker
(src/pfs/external/wasm/_ticker.c) and guest calls (_guestcall.c).

Everything else is in pyproject.toml. Both are optional: where they cannot be built (no C
compiler), WASM guest calls go through ctypes and release the GIL, and a Python thread ticks
(slower, same behaviour; see pfs.external.wasm.runtime and fastcall).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pfs.external.wasm._ticker",
            ["src/pfs/external/wasm/_ticker.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
        Extension(
            "pfs.external.wasm._guestcall",
            ["src/pfs/external/wasm/_guestcall.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
    ]
)
