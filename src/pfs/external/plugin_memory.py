"""Copying what a native plugin returns without trusting it.

A plugin hands back raw pointers and lengths. A wrong one (a small integer, freed memory, a byte
count read as a pointer, a length past the end of its buffer, a string without its NUL) would make a
plain ``ctypes.string_at`` fault and kill the server. Every copy goes through Linux's
``process_vm_readv`` on our own process instead: the kernel copies what is mapped and stops at the
first unreadable page with a short count, so a bad result becomes an error answer. This does not
catch a pointer into some other live memory of the process (the plugin runs in the server process:
no isolation from real memory bugs). Where the call is unavailable (not Linux, or a seccomp profile
forbids it), copies are unchecked, as in the original server.

The call costs ~1.5 us, most of it fixed: the strings of stat and readdir records are copied many
to a call (``read_strings``), a stat record together with the strings the last one pointed to
(``read_record``), and only a string that did not come out whole is copied again alone.
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
import sys
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from pfs.fs.errors import FSError

#: Longest text a plugin may return (an error message, a name, meta JSON).
MAX_TEXT = 1 << 20
#: First try at a string: most are short, and a short copy at a page end stops there by itself.
_FIRST_TEXT_READ = 4096
#: Above this, a length is first checked at its last byte: a wrong huge one fails before we
#: allocate for it.
_PROBE_ABOVE = 1 << 20
#: Room each string of a batch gets (names and meta are short); a longer one is read again alone.
_SLOT = 256
#: Strings whose slots fit in this many bytes are copied as one span: every remote iovec costs
#: the kernel a page lookup (~0.4 us), a page more of copying ~0.1 us.
_SPAN = 4096
#: Scratch bytes per thread: a batch ends when its spans fill them.
_SCRATCH_BYTES = 1 << 16
#: Spans per call at most: each holds a slot at least (well under the kernel's IOV_MAX, 1024).
_MAX_SPANS = _SCRATCH_BYTES // _SLOT


#: ``struct iovec``: base, length.
_IOVEC = struct.Struct("@PN")
_IOVEC_PAIR = struct.Struct("@PNPN")


# PyDLL keeps the GIL: the call takes a few microseconds and runs where the plugin call ran. No
# argtypes: every argument is passed as a ready ctypes object (converting six Python ints through
# argtypes costs ~0.4 us a call, a fifth of the call).
_readv = getattr(ctypes.PyDLL(None), "process_vm_readv", None)
if _readv is not None:
    _readv.restype = ctypes.c_ssize_t
_ONE = ctypes.c_ulong(1)
_NO_FLAGS = ctypes.c_ulong(0)

# A bytes object of the asked size, filled in place before anyone else sees it: one copy for a
# large read instead of a buffer plus ``bytes(buffer)``.
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.restype = ctypes.py_object
_new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
_BYTES_DATA_OFFSET = sys.getsizeof(b"") - 1

_pid = ctypes.c_int(os.getpid())


def _forked() -> None:
    _pid.value = os.getpid()


os.register_at_fork(after_in_child=_forked)


class _Scratch:
    """One thread's reused memory for copies (plugins are called on the event loop, and loaded in
    worker threads): building iovecs and buffers per copy costs as much as the system call."""

    def __init__(self) -> None:
        #: Where batched strings and first tries at a string land.
        self.data = bytearray(_SCRATCH_BYTES)
        #: The local iovec, then the remote ones: a head and up to _MAX_SPANS spans.
        self.iov = bytearray(_IOVEC.size * (2 + _MAX_SPANS))
        # The views pin both (a bytearray with an exported buffer cannot move or resize).
        self._views = [(ctypes.c_char * len(b)).from_buffer(b) for b in (self.data, self.iov)]
        self.data_address = ctypes.addressof(self._views[0])
        self.local = ctypes.c_void_p(ctypes.addressof(self._views[1]))
        self.remote = ctypes.c_void_p(ctypes.addressof(self._views[1]) + _IOVEC.size)


_per_thread = threading.local()


def _scratch() -> _Scratch:
    try:
        return _per_thread.scratch  # type: ignore[no-any-return]
    except AttributeError:
        _per_thread.scratch = scratch = _Scratch()
        return scratch


def _copy_into(target: int, address: int, length: int) -> int:
    """Bytes copied from ``address`` to ``target``: fewer than ``length`` at unreadable memory."""
    scratch = _scratch()
    _IOVEC_PAIR.pack_into(scratch.iov, 0, target, length, address, length)
    copied: int = _readv(_pid, scratch.local, _ONE, scratch.remote, _ONE, _NO_FLAGS)
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
    scratch = _scratch()
    copied = _copy_into(scratch.data_address, address, _FIRST_TEXT_READ)
    end = scratch.data.find(0, 0, copied)
    if end >= 0:
        return scratch.data[:end].decode("utf-8", "replace")
    size = _FIRST_TEXT_READ
    while copied == size:
        if size >= MAX_TEXT:
            raise FSError(
                f"{what}: the string at {address:#x} has no end within {MAX_TEXT >> 20} MiB"
            )
        size = min(size * 16, MAX_TEXT)
        buffer = ctypes.create_string_buffer(size)
        copied = _copy_into(ctypes.addressof(buffer), address, size)
        raw = buffer.raw
        end = raw.find(b"\0", 0, copied)
        if end >= 0:
            return raw[:end].decode("utf-8", "replace")
    raise FSError(
        f"{what}: the string at {address:#x} is not readable memory (or has no terminating NUL)"
    )


class _Plan(NamedTuple):
    """Where one system call copies a batch of strings from."""

    #: The remote iovecs, packed, after one for a head when ``used`` started above 0.
    iovecs: bytes
    count: ctypes.c_ulong
    #: Per string: its address, its offset in the scratch, the end of its span there.
    slots: tuple[tuple[int, int, int], ...]
    #: The index of the first string left for the next call.
    next: int
    #: The scratch bytes the batch fills.
    used: int
    #: A cached plan's last whole copy: the strings' bytes (all after the head) and their
    #: texts, so the same bytes again are not decoded again.
    last: list[tuple[bytes, dict[int, str]]] | None = None


def _plan(wanted: Sequence[int], index: int, head: int) -> _Plan:
    """Spans holding the slots of the strings ``wanted[index:]`` (sorted addresses) that fit in
    the scratch after a head of ``head`` bytes (none when 0) and in one call's iovecs."""
    used = head
    spans: list[int] = []
    slots: list[tuple[int, int, int]] = []
    while index < len(wanted):
        start = wanted[index]
        last = index + 1
        while last < len(wanted) and wanted[last] + _SLOT - start <= _SPAN:
            last += 1
        length = wanted[last - 1] + _SLOT - start
        if used + length > _SCRATCH_BYTES:
            break
        end = used + length
        slots += [(address, used + address - start, end) for address in wanted[index:last]]
        spans += (start, length)
        used = end
        index = last
    count = len(spans) // 2
    iovecs = struct.pack(f"@{2 * count}N", *spans)
    return _Plan(iovecs, ctypes.c_ulong(count + (head > 0)), tuple(slots), index, used)


@functools.lru_cache(maxsize=64)
def _cached_plan(wanted: tuple[int, ...], head: int) -> _Plan:
    """``_plan`` for a few strings, made again and again for the same ones (a record's, guessed
    or read: plugins return the same strings again); it remembers its last copy."""
    return _plan(wanted, 0, head)._replace(last=[(b"", {})])


#: Up to this many strings a plan is cached.
_CACHED_PLAN_STRINGS = 16


def _copy(plan: _Plan, texts: dict[int, str], head: int = 0, head_length: int = 0) -> int:
    """One system call: ``head_length`` bytes at ``head`` to the start of the scratch (the head
    ``plan`` was made for), then the spans of ``plan``. Each string whose NUL is in what was
    copied of its span goes into ``texts``; after a short count (the kernel stops at the first
    unreadable page) the ones at and after that point are left to the caller; the bytes of a
    cached plan's strings the same as at its last whole copy give the texts decoded then. Returns
    the bytes copied."""
    scratch = _scratch()
    iov = scratch.iov
    _IOVEC.pack_into(iov, 0, scratch.data_address, plan.used)
    at = _IOVEC.size
    if head_length:
        _IOVEC.pack_into(iov, at, head, head_length)
        at += _IOVEC.size
    iov[at : at + len(plan.iovecs)] = plan.iovecs
    copied = max(_readv(_pid, scratch.local, _ONE, scratch.remote, plan.count, _NO_FLAGS), 0)
    data = scratch.data
    last = plan.last
    whole = bytes(data[head_length:copied]) if last is not None and copied == plan.used else None
    if last is not None:
        known, found = last[0]
        if whole == known:
            texts.update(found)
            return copied
    if copied < plan.used:
        # What was not copied holds an earlier call's bytes: no NUL of theirs may end a string.
        data[copied : plan.used] = b"\xff" * (plan.used - copied)
    found = {}
    for address, offset, end in plan.slots:
        nul = data.find(0, offset, end)
        if nul >= 0:
            found[address] = data[offset:nul].decode("utf-8", "replace")
    if last is not None and whole is not None:
        last[0] = (whole, found)
    texts.update(found)
    return copied


def read_record(
    address: int, layout: struct.Struct, what: str, guess: tuple[int, ...]
) -> tuple[tuple[Any, ...], dict[int, str]]:
    """The record at ``address`` unpacked with ``layout`` (copied as ``read_bytes`` would), and
    from the same system call the strings at ``guess`` (sorted; where the last record's
    pointed: plugins return the same strings again): address → text of those copied whole, for
    ``read_strings``."""
    texts: dict[int, str] = {}
    length = layout.size
    if not CHECKED or not address or length > _SCRATCH_BYTES // 2:
        return layout.unpack(read_bytes(address, length, what)), texts
    copied = _copy(_cached_plan(guess, length), texts, address, length)
    if copied < length:
        raise FSError(f"{what}: {length} bytes at {address:#x} are not readable memory")
    return layout.unpack_from(_scratch().data), texts


def read_strings(
    addresses: Sequence[int], what: str, fields: Sequence[str], texts: dict[int, str]
) -> list[str]:
    """The NUL-terminated UTF-8 strings at ``addresses`` (NULL is ``""``), as ``read_text`` of
    each but in few system calls: nearby strings share a span, up to ``_MAX_SPANS`` spans go in
    one call, and only a string without its NUL in what was copied of its span (a longer one, or
    one at or after an unreadable page) is read again alone, carefully. ``texts`` holds strings
    already read (address → text; the new ones are added). The addresses are records of
    ``len(fields)`` strings each: string ``i`` is ``f"{what} {fields[i % len(fields)]}"`` in an
    error."""
    if not CHECKED:
        return [read_text(address, what) for address in addresses]
    try:
        return [texts[address] if address else "" for address in addresses]
    except KeyError:
        pass  # some to copy
    wanted = sorted({address for address in addresses if address and address not in texts})
    if len(wanted) <= _CACHED_PLAN_STRINGS:
        _copy(_cached_plan(tuple(wanted), 0), texts)
    else:
        index = 0
        while index < len(wanted):
            plan = _plan(wanted, index, 0)
            _copy(plan, texts)
            index = plan.next
    strings = []
    for position, address in enumerate(addresses):
        text = texts.get(address) if address else ""
        if text is None:
            field = fields[position % len(fields)]
            text = texts[address] = read_text(address, f"{what} {field}")
        strings.append(text)
    return strings
