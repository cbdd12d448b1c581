"""Copying what a native plugin returns without trusting it.

A plugin hands back raw pointers and lengths. A wrong one (a small integer, freed memory, a byte
count read as a pointer, a length past the end of its buffer, a string without its NUL) would make a
plain ``ctypes.string_at`` fault and kill the server. Every copy goes through Linux's
``process_vm_readv`` on our own process instead: the kernel copies what is mapped and stops at the
first unreadable page with a short count, so a bad result becomes an error answer. This does not
catch a pointer into some other live memory of the process (the plugin runs in the server process:
no isolation from real memory bugs). Where the call is unavailable (not Linux, or a seccomp profile
forbids it), copies are unchecked, as in the original server.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

from pfs.fs.errors import FSError

#: Longest text a plugin may return (an error message, a name, meta JSON).
MAX_TEXT = 1 << 20
#: First try at a string: most are short, and a short copy at a page end stops there by itself.
_FIRST_TEXT_READ = 4096
#: Above this, a length is first checked at its last byte: a wrong huge one fails before we
#: allocate for it.
_PROBE_ABOVE = 1 << 20


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


# PyDLL keeps the GIL: the call takes a few microseconds and runs where the plugin call ran.
_libc = ctypes.PyDLL(None, use_errno=True)
_readv = getattr(_libc, "process_vm_readv", None)
if _readv is not None:
    _readv.restype = ctypes.c_ssize_t
    _readv.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]

# A bytes object of the asked size, filled in place before anyone else sees it: one copy for a
# large read instead of a buffer plus ``bytes(buffer)``.
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.restype = ctypes.py_object
_new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
_BYTES_DATA_OFFSET = sys.getsizeof(b"") - 1

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


# One (local, remote) iovec pair per thread, reused: building one per copy costs as much as the
# system call (plugins are called on the event loop, and loaded in worker threads).
_per_thread = threading.local()


def _copy_into(target: int, address: int, length: int) -> int:
    """Bytes copied from ``address`` to ``target``: fewer than ``length`` at unreadable memory."""
    try:
        local, remote, local_address, remote_address = _per_thread.iov
    except AttributeError:
        pair = (_IoVec * 2)()
        base = ctypes.addressof(pair)
        _per_thread.iov = local, remote, local_address, remote_address = (
            pair[0],
            pair[1],
            base,
            base + ctypes.sizeof(_IoVec),
        )
        _per_thread.keep = pair
    local.base = target
    local.len = remote.len = length
    remote.base = address
    copied = _readv(_pid, local_address, 1, remote_address, 1, 0)
    return max(copied, 0)


def _works() -> bool:
    if _readv is None:
        return False
    probe = ctypes.create_string_buffer(b"probe")
    copy = ctypes.create_string_buffer(5)
    return _copy_into(ctypes.addressof(copy), ctypes.addressof(probe), 5) == 5 and (
        copy.raw == b"probe"
    )


#: Whether results are checked (logged once by the loader when not).
CHECKED = _works()


def read_bytes(address: int, length: int, what: str) -> bytes:
    """``length`` bytes at ``address`` (a plugin's buffer); ``what`` names it in the error."""
    if length == 0:
        return b""
    if not address:
        raise FSError(f"{what}: {length} bytes at a null pointer")
    if not CHECKED:
        return ctypes.string_at(address, length)
    if length > _PROBE_ABOVE:
        last = ctypes.c_char()
        if _copy_into(ctypes.addressof(last), address + length - 1, 1) != 1:
            raise FSError(f"{what}: {length} bytes at {address:#x} are not readable memory")
    data = _new_bytes(None, length)
    if _copy_into(id(data) + _BYTES_DATA_OFFSET, address, length) != length:
        raise FSError(f"{what}: {length} bytes at {address:#x} are not readable memory")
    return data


def read_text(address: int | None, what: str) -> str:
    """The NUL-terminated UTF-8 string at ``address``; NULL is ``""``."""
    if not address:
        return ""
    if not CHECKED:
        return ctypes.string_at(address).decode("utf-8", "replace")
    size = _FIRST_TEXT_READ
    while True:
        buffer = ctypes.create_string_buffer(size)
        copied = _copy_into(ctypes.addressof(buffer), address, size)
        raw = buffer.raw
        end = raw.find(b"\0", 0, copied)
        if end >= 0:
            return raw[:end].decode("utf-8", "replace")
        if copied < size:
            raise FSError(
                f"{what}: the string at {address:#x} is not readable memory "
                "(or has no terminating NUL)"
            )
        if size >= MAX_TEXT:
            raise FSError(
                f"{what}: the string at {address:#x} has no end within {MAX_TEXT >> 20} MiB"
            )
        size = min(size * 16, MAX_TEXT)
