"""The one C extension: the WASM runtime's epoch ticker (src/pfs/external/wasm/_ticker.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C
compiler), WASM guest calls release the GIL and a Python thread ticks instead (slower, same
behaviour; see pfs.external.wasm.runtime).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pfs.external.wasm._ticker",
            ["src/pfs/external/wasm/_ticker.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        )
    ]
)
