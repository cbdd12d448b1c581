"""Which kind of plugin a file is: magic number first, then the file extension."""

from __future__ import annotations

import os

from pfs.fs.errors import FSError

NATIVE = "native"
WASM = "wasm"

_WASM_MAGIC = b"\x00asm"
_NATIVE_MAGICS = (
    b"\x7fELF",  # ELF
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",  # Mach-O, big endian 32/64
    b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",  # Mach-O, little endian 32/64
    b"\xca\xfe\xba\xbe", b"\xbe\xba\xfe\xca",  # Mach-O fat
)
_EXTENSIONS = {".wasm": WASM, ".so": NATIVE, ".dylib": NATIVE, ".dll": NATIVE}


def detect_type(path: str) -> str:
    """``native`` or ``wasm``.

    Raises:
        FSError: ``failed to detect plugin type: plugin file not found: <path>`` or
            ``unsupported plugin type: unknown``.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise FSError(f"failed to detect plugin type: plugin file not found: {path}") from None
    except IsADirectoryError:
        raise FSError(f"unsupported plugin type: unknown ({path} is a directory)") from None
    except OSError as exc:
        raise FSError(f"failed to detect plugin type: {path}: {exc.strerror}") from None
    if head == _WASM_MAGIC:
        return WASM
    if head in _NATIVE_MAGICS or head[:2] == b"MZ":
        return NATIVE
    kind = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise FSError("unsupported plugin type: unknown")
    return kind
