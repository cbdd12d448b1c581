"""Which kind of plugin a file is (magic number first, then the file extension), and whether a
native library was built for this machine. Blocking: the loader runs these in a worker thread."""

from __future__ import annotations

import functools
import os
import stat
import sys

from pfs.fs.errors import FSError, InvalidArgument, IsADirectory, NotFound, PermissionDenied

NATIVE = "native"
WASM = "wasm"

_WASM_MAGIC = b"\x00asm"
_ELF_MAGIC = b"\x7fELF"
#: Big endian 32/64, little endian 32/64, fat.
_MACHO_MAGICS = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\xbe\xba\xfe\xca",
)
_EXTENSIONS = {".wasm": WASM, ".so": NATIVE, ".dylib": NATIVE, ".dll": NATIVE}
#: ELF identification (class, byte order) and e_machine: what a library must share with us.
_ELF_ID = slice(4, 6)
_ELF_MACHINE = slice(18, 20)
HEADER_SIZE = 20


def read_header(path: str) -> bytes:
    """The first bytes of the plugin file at ``path``.

    Opened non-blocking and checked to be a regular file first: opening a FIFO without a writer
    (or a device) would wait forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"failed to detect plugin type: plugin file not found: {path}") from None
    except PermissionError:
        raise PermissionDenied(f"failed to detect plugin type: {path}: permission denied") from None
    except OSError as exc:
        raise InvalidArgument(f"failed to detect plugin type: {path}: {exc.strerror}") from None
    except ValueError:  # a NUL in the path
        raise InvalidArgument(f"failed to detect plugin type: invalid path {path!r}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectory(f"unsupported plugin type: unknown ({path} is a directory)")
        if not stat.S_ISREG(mode):
            raise InvalidArgument(
                f"unsupported plugin type: unknown ({path} is not a regular file)"
            )
        return os.pread(fd, HEADER_SIZE, 0)
    except OSError as exc:
        raise FSError(f"failed to detect plugin type: {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def kind_of(path: str, header: bytes) -> str:
    """``native`` or ``wasm`` for a file starting with ``header``."""
    magic = header[:4]
    if magic == _WASM_MAGIC:
        return WASM
    if magic == _ELF_MAGIC or magic in _MACHO_MAGICS or magic[:2] == b"MZ":
        return NATIVE
    kind = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise InvalidArgument("unsupported plugin type: unknown")
    return kind


def detect_type(path: str) -> str:
    return kind_of(path, read_header(path))


@functools.cache
def _own_header() -> bytes:
    with open(sys.executable, "rb") as handle:
        return handle.read(HEADER_SIZE)


def _format(header: bytes) -> str:
    if header[:4] == _ELF_MAGIC:
        bits = {1: "32-bit", 2: "64-bit"}.get(header[4], "unknown-class")
        order = {1: "little endian", 2: "big endian"}.get(header[5], "unknown byte order")
        machine = int.from_bytes(header[_ELF_MACHINE], "little" if header[5] == 1 else "big")
        return f"a {bits} {order} ELF library for machine {machine}"
    if header[:4] in _MACHO_MAGICS:
        return "a Mach-O (macOS) library"
    if header[:2] == b"MZ":
        return "a PE (Windows) library"
    return ""


def check_native_header(path: str, header: bytes) -> None:
    """Refuse an ELF file built for another word size, byte order or CPU (or no ELF at all) on an
    ELF system, before dlopen: a clear 400 instead of the loader's text."""
    own = _own_header()
    if own[:4] != _ELF_MAGIC:
        return  # not an ELF system: dlopen judges
    if header[:4] == _ELF_MAGIC and (
        header[_ELF_ID] == own[_ELF_ID] and header[_ELF_MACHINE] == own[_ELF_MACHINE]
    ):
        return
    found = _format(header)
    if not found:
        raise InvalidArgument(
            f"failed to open library {path}: not a shared library (no ELF header)"
        )
    raise InvalidArgument(
        f"failed to open library {path}: wrong ABI: the file is {found}, "
        f"this server loads {_format(own)}"
    )
