"""Native plugins: shared libraries with the original server's C ABI, called through ctypes.

See ``pfs_plugin.h`` and NATIVE_ABI.md. Calls run directly on the event loop (a call costs about a
microsecond, far less than a thread hop), which also serialises them per instance: the original
called plugins concurrently without a lock. Every pointer a plugin returns is plugin-owned; we copy
(through ``plugin_memory``, so a bad pointer or length is an error, not a crash) and never free.
Differences from the original, where it crashes or leaks:

* ``out_len``/``out_count`` are 32-bit ``int`` in every plugin but an 8-byte slot in the original
  host: we read the low 32 bits as signed, so ``-1`` is an error, not a 4 GiB copy.
* unmount never frees the shared instance; ``PluginFree`` runs once, at unload.
* ``FSWrite`` exists in two ABIs with the same symbol names: the original's returns a message
  pointer, AGFS's (AGFS.md §6) takes an offset and flags and returns a 64-bit byte count. A
  plugin's ``abi`` (``pfs``, ``agfs`` or ``auto``, set where it is loaded) says which; ``auto``
  calls with AGFS's prototype (a v1 function ignores the extra arguments and returns its pointer in
  the same register) and tells them apart by the result: a value is read as a message only when it
  is no byte count and points to readable memory, and the first real count shows the plugin to be
  AGFS's. Offset and append writes reach only a plugin known to be AGFS's: a v1 plugin would
  replace the whole file with the piece.
* the original ``FSWrite`` cannot report an error (its text arrives as a 200 message, as in the
  original); a plugin may export ``FSWriteEx`` instead, which has an error flag and a 64-bit length.
  AGFS's reports ``-1`` (``write failed``, 500) or, a PFS reading, ``-errno`` for a typed error.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pfs.external.common import (
    ExternalPlugin,
    config_json,
    initialize_error,
    no_streaming,
    refuse_partial_write,
)
from pfs.external.plugin_memory import (
    CHECKED,
    read_bytes,
    read_record,
    read_strings,
    read_text,
)
from pfs.fs.base import REPLACE, Buffered, FileSystem, WriteFlag
from pfs.fs.errors import (
    AlreadyExists,
    FSError,
    InsufficientStorage,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotEmpty,
    NotFound,
    NotSupported,
    PermissionDenied,
    ReadOnly,
    TooLarge,
)
from pfs.fs.fileinfo import FileInfo, Meta

log = logging.getLogger("pfs.external")

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p


class FileInfoC(ctypes.Structure):
    """64 bytes on LP64; ctypes inserts the same padding as the C compiler. The ABI's declaration:
    records are read with ``_RECORD``, which the tests check against it."""

    _fields_ = [
        ("Name", c_void_p),
        ("Size", ctypes.c_int64),
        ("Mode", ctypes.c_uint32),
        ("ModTime", ctypes.c_int64),
        ("IsDir", ctypes.c_int32),
        ("MetaName", c_void_p),
        ("MetaType", c_void_p),
        ("MetaContent", c_void_p),
    ]


class FileInfoArray(ctypes.Structure):
    _fields_ = [("Items", c_void_p), ("Count", ctypes.c_int)]


#: symbol → (restype, argtypes). Returned strings are ``c_void_p`` so the raw pointer is kept.
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "PluginNew": (c_void_p, []),
    "PluginFree": (None, [c_void_p]),
    "PluginName": (c_void_p, [c_void_p]),
    "PluginGetReadme": (c_void_p, [c_void_p]),
    "PluginValidate": (c_void_p, [c_void_p, c_char_p]),
    "PluginInitialize": (c_void_p, [c_void_p, c_char_p]),
    "PluginShutdown": (c_void_p, [c_void_p]),
    # PFS extension: the errno of the last failed PluginInitialize (0 = none given).
    "PluginLastErrno": (ctypes.c_int, [c_void_p]),
    "FSCreate": (c_void_p, [c_void_p, c_char_p]),
    "FSMkdir": (c_void_p, [c_void_p, c_char_p, ctypes.c_uint32]),
    "FSRemove": (c_void_p, [c_void_p, c_char_p]),
    "FSRemoveAll": (c_void_p, [c_void_p, c_char_p]),
    "FSRead": (c_void_p, [c_void_p, c_char_p, ctypes.c_int64, ctypes.c_int64, c_void_p]),
    # AGFS's prototype (see the module doc): data_len 64-bit, offset, flags; returns int64.
    "FSWrite": (
        ctypes.c_int64,
        [c_void_p, c_char_p, c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint32],
    ),
    # PFS extension: FSWrite with a 64-bit length and an error flag (the original ABI has none).
    "FSWriteEx": (c_void_p, [c_void_p, c_char_p, c_char_p, ctypes.c_int64, c_void_p]),
    "FSReadDir": (c_void_p, [c_void_p, c_char_p, c_void_p]),
    "FSStat": (c_void_p, [c_void_p, c_char_p]),
    "FSRename": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "FSChmod": (c_void_p, [c_void_p, c_char_p, ctypes.c_uint32]),
}

#: The FSWrite ABIs a native plugin may have (its ``abi``): told from the results, the original
#: server's (``pfs``) or AGFS's v2 (``agfs``).
AUTO_ABI = "auto"
PFS_ABI = "pfs"
AGFS_ABI = "agfs"
ABIS = (AUTO_ABI, PFS_ABI, AGFS_ABI)

_MAX_WRITE = (1 << 31) - 1  # the C prototype's ``int data_len``
#: AGFS's "no position" offset: what it passes with CREATE | TRUNCATE for every HTTP write.
_NO_POSITION = -1
#: ``-errno`` results of an AGFS FSWrite → our error kinds (``-1`` stays AGFS's plain failure).
_WRITE_ERRORS: dict[int, type[FSError]] = {
    cls.errno: cls
    for cls in (
        NotFound,
        AlreadyExists,
        NotADirectory,
        IsADirectory,
        NotEmpty,
        PermissionDenied,
        ReadOnly,
        InvalidArgument,
        NotSupported,
        TooLarge,
        InsufficientStorage,
    )
}
#: More entries than any listing needs: a garbage count is an error before any copy.
_MAX_ENTRIES = 1 << 20

# dlopen through a foreign call that releases the GIL: ctypes' own dlopen holds it while a
# library's constructors run, which would stall the event loop even from a worker thread.
_dl = ctypes.CDLL(None)
_dlopen = _dl.dlopen
_dlopen.restype = c_void_p
_dlopen.argtypes = [c_char_p, ctypes.c_int]
_dlerror = _dl.dlerror
_dlerror.restype = c_char_p
_dlerror.argtypes = []


def _low32(value: int) -> int:
    """The plugin's 32-bit ``int`` out-parameter inside our zeroed 8-byte slot."""
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value & 0x8000_0000 else value


#: FileInfoC as ``struct`` reads it (native alignment: the same padding), faster than ctypes.
_RECORD = struct.Struct("@PqIqiPPP")
#: The strings of a record, in the order ``_strings_of`` gives them.
_STRING_FIELDS = ("Name", "MetaName", "MetaType", "MetaContent")


#: Distinct metas a plugin's cache keeps (a listing's entries mostly share one).
_MAX_METAS = 1024


def _meta_content(text: str) -> dict[str, str]:
    """``MetaContent`` JSON → string map; anything unusable is ``{}`` (never null)."""
    try:
        parsed = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}


def _strings_of(record: tuple[Any, ...]) -> tuple[int, ...]:
    """The string pointers of an unpacked FileInfoC, in ``_STRING_FIELDS`` order."""
    return (record[0], *record[5:])


def check_abi(value: object) -> str:
    """A plugin's configured ``abi``, validated."""
    if value not in ABIS:
        raise InvalidArgument(f"abi: must be one of {', '.join(ABIS)}, got {value!r}")
    return str(value)


def _write_error(result: int) -> FSError:
    """AGFS's negative FSWrite result: ``-errno`` of a kind we know is that kind, else plain."""
    kind = _WRITE_ERRORS.get(-result)
    if kind is None:
        return FSError("write failed")
    return kind(f"write failed: {os.strerror(-result)}")


def _counted(result: int, length: int) -> str:
    """An AGFS FSWrite result: the bytes written (its server's wording), never a pointer."""
    if result < 0:
        raise _write_error(result)
    if result > length:
        raise FSError(f"write failed: FSWrite reported {result} bytes written of {length}")
    return f"Written {result} bytes"


def _message(result: int, length: int) -> str:
    """The original's FSWrite result, a message pointer (NULL = no message), read checked."""
    try:
        return read_text(result, "FSWrite")
    except FSError:
        raise FSError(f"write failed: FSWrite returned {result}, not a readable message") from None


class NativePlugin(ExternalPlugin):
    """A dlopen'ed library and the one instance ``PluginNew`` made for it."""

    kind = "native"

    def __init__(self, key: str, library: ctypes.PyDLL, abi: str = AUTO_ABI) -> None:
        self.lib = library
        #: The FSWrite ABI as configured; ``auto`` turns ``agfs`` at the first byte count.
        self.abi = check_abi(abi)
        self.fn: dict[str, Any] = {}
        for symbol, (restype, argtypes) in SIGNATURES.items():
            try:
                func = getattr(library, symbol)
            except AttributeError:
                continue
            func.restype = restype
            func.argtypes = argtypes
            self.fn[symbol] = func
        if "PluginNew" not in self.fn:
            raise InvalidArgument(
                "failed to create plugin wrapper: plugin missing required PluginNew function"
            )
        handle = self.fn["PluginNew"]()
        if not handle:
            raise FSError("failed to create plugin wrapper: PluginNew returned null pointer")
        self.handle = c_void_p(handle)
        self._fs_read = self.fn.get("FSRead")
        self._read_len = ctypes.c_int64(0)
        self._read_len_ref = ctypes.byref(self._read_len)
        #: The last FSStat record's string pointers, and the same sorted without NULL: the next
        #: record is copied together with these strings on a guess it points to them again.
        self._stat_pointers: tuple[int, ...] = ()
        self._stat_strings: tuple[int, ...] = ()
        #: (MetaName, MetaType, MetaContent) → the Meta made of them, shared (Meta's contract).
        self._metas: dict[tuple[str, str, str], Meta] = {}
        name = self._text_call("PluginName")
        # The original registered a nameless plugin as fstype "": use the file name instead.
        super().__init__(key, name or Path(key).stem.removeprefix("lib"))

    @classmethod
    def open(cls, key: str, abi: str = AUTO_ABI) -> NativePlugin:
        """dlopen ``key`` (never closed: code may still be referenced) and create the instance.

        Blocking (the library's constructors, ``PluginNew``): the loader calls it in a thread.
        """
        if not CHECKED:
            log.warning(
                "%s: plugin results cannot be checked on this system (no "
                "process_vm_readv): a bad pointer from the plugin crashes the server",
                key,
            )
        handle = _dlopen(os.fsencode(key), os.RTLD_NOW | os.RTLD_LOCAL)
        if not handle:
            reason = (_dlerror() or b"unknown error").decode("utf-8", "replace")
            raise FSError(f"failed to open library {key}: {reason}")
        # PyDLL keeps the GIL across calls: they run on the event loop thread anyway, and
        # dropping the GIL for each ~1 µs call let the server's I/O threads contend for it on
        # every request.
        return cls(key, ctypes.PyDLL(key, handle=handle), abi)

    def readme(self) -> str:
        return self._text_call("PluginGetReadme")

    # -- lifecycle ---------------------------------------------------------------------------

    def _text_call(self, symbol: str, *args: Any) -> str:
        """Call a string function (an err-string: "" on success); "" when absent."""
        func = self.fn.get(symbol)
        if func is None:
            return ""
        return read_text(func(self.handle, *args), symbol)

    def _validate(self, config: dict[str, Any]) -> None:
        error = self._text_call("PluginValidate", config_json(config))
        if error:
            raise InvalidArgument(error)

    def _initialize(self, config: dict[str, Any]) -> None:
        error = self._text_call("PluginInitialize", config_json(config))
        if error:
            errno_of = self.fn.get("PluginLastErrno")
            raise initialize_error(error, errno_of(self.handle) if errno_of is not None else 0)

    def _shutdown(self) -> None:
        error = self._text_call("PluginShutdown")
        if error:
            log.warning("%s: PluginShutdown: %s", self.fstype, error)

    def _free(self) -> None:
        func = self.fn.get("PluginFree")
        if func is not None:
            func(self.handle)

    def _filesystem(self, config: dict[str, Any]) -> NativeFS:
        return NativeFS(self, config)

    # -- operations (synchronous: called on the event loop) ----------------------------------

    def _require(self, symbol: str) -> Any:
        func = self.fn.get(symbol)
        if func is None:
            raise FSError("not implemented")
        return func

    def _checked(self, symbol: str, *args: Any) -> None:
        error = read_text(self._require(symbol)(self.handle, *args), symbol)
        if error:
            raise FSError(error)

    def read(self, path: str, offset: int, size: int) -> bytes:
        # Reads are the hot call: one reused out-slot (calls run one at a time on the loop).
        read = self._fs_read
        if read is None:
            raise FSError("not implemented")
        out_len = self._read_len
        out_len.value = 0
        ptr = read(self.handle, path.encode(), offset, size, self._read_len_ref)
        length = _low32(out_len.value)
        if length < 0:
            raise FSError(read_text(ptr, "FSRead") or "read failed")
        if not ptr:
            return b""
        if 0 < size < length:
            raise FSError(f"FSRead returned {length} bytes for a read of at most {size}")
        return read_bytes(ptr, length, "FSRead")

    def write(
        self, path: str, data: bytes, offset: int = _NO_POSITION, flags: WriteFlag = REPLACE
    ) -> str:
        """FSWrite with AGFS's arguments (``offset`` −1 = no position, ``flags`` its bits, which
        are ours); the caller sends offsets and append only to a plugin whose ABI is ``agfs``."""
        extended = self.fn.get("FSWriteEx")
        if extended is not None and self.abi != AGFS_ABI:
            out_err = ctypes.c_int64(0)
            ptr = extended(
                self.handle, path.encode(), data or None, len(data), ctypes.byref(out_err)
            )
            message = read_text(ptr, "FSWriteEx")
            if _low32(out_err.value):
                raise FSError(message or "write failed")
            return message
        if len(data) > _MAX_WRITE:
            raise TooLarge(f"write: {path}: native plugins take at most {_MAX_WRITE} bytes")
        result = self._require("FSWrite")(
            self.handle, path.encode(), data or None, len(data), offset, int(flags)
        )
        return self._write_answer(result, len(data))

    def _write_answer(self, result: int, length: int) -> str:
        if self.abi == AGFS_ABI:
            return _counted(result, length)
        if self.abi == PFS_ABI:
            return _message(result, length)
        if result == 0:  # the original's NULL (no message) or AGFS's "nothing written"
            return ""
        if 0 < result <= length or result < 0:  # a count (or error): no pointer is that small
            log.info("%s: FSWrite returned a byte count: the plugin has AGFS's ABI", self.fstype)
            self.abi = AGFS_ABI
            return _counted(result, length)
        # Only the original's message pointer is larger than the data (or a wrong AGFS count).
        try:
            return read_text(result, "FSWrite")
        except FSError:
            raise FSError(
                f"write failed: FSWrite returned {result}, neither a byte count of at most "
                f"{length} nor a readable message"
            ) from None

    def _file_info(self, record: tuple[Any, ...], strings: list[str], at: int) -> FileInfo:
        """An unpacked FileInfoC record whose strings are ``strings[at:at + 4]``."""
        key = (strings[at + 1], strings[at + 2], strings[at + 3])
        meta = self._metas.get(key)
        if meta is None:
            if len(self._metas) >= _MAX_METAS:
                self._metas.clear()
            meta = self._metas[key] = Meta(key[0], key[1], _meta_content(key[2]))
        _, size, mode, mtime, is_dir, *_ = record
        return FileInfo(strings[at], size, mode, mtime * 1_000_000_000, is_dir != 0, meta)

    def stat(self, path: str) -> FileInfo:
        ptr = self._require("FSStat")(self.handle, path.encode())
        if not ptr:
            raise FSError("stat failed")
        record, texts = read_record(ptr, _RECORD, "FSStat", self._stat_strings)
        pointers = _strings_of(record)
        if pointers != self._stat_pointers:
            self._stat_pointers = pointers
            self._stat_strings = tuple(sorted({address for address in pointers if address}))
        return self._file_info(record, read_strings(pointers, "FSStat", _STRING_FIELDS, texts), 0)

    def readdir(self, path: str) -> list[FileInfo]:
        out_count = ctypes.c_int64(0)
        ptr = self._require("FSReadDir")(self.handle, path.encode(), ctypes.byref(out_count))
        count = _low32(out_count.value)
        # A negative count is the plugin's error; the original answers an empty listing.
        if not ptr or count <= 0:
            return []
        if count > _MAX_ENTRIES:
            raise FSError(f"FSReadDir returned a count of {count} (at most {_MAX_ENTRIES})")
        array = read_bytes(ptr, ctypes.sizeof(FileInfoArray), "FSReadDir")
        items = FileInfoArray.from_buffer_copy(array).Items
        if not items:
            return []
        raw = read_bytes(items, count * _RECORD.size, "FSReadDir Items")
        records = list(_RECORD.iter_unpack(raw))
        # All the strings of the listing together.
        strings = read_strings(
            [address for record in records for address in _strings_of(record)],
            "FSReadDir",
            _STRING_FIELDS,
            {},
        )
        return [
            self._file_info(record, strings, at)
            for record, at in zip(records, range(0, len(strings), len(_STRING_FIELDS)), strict=True)
        ]

    def create(self, path: str) -> None:
        self._checked("FSCreate", path.encode())

    def mkdir(self, path: str, mode: int) -> None:
        self._checked("FSMkdir", path.encode(), mode)

    def remove(self, path: str, recursive: bool) -> None:
        self._checked("FSRemoveAll" if recursive else "FSRemove", path.encode())

    def rename(self, old: str, new: str) -> None:
        self._checked("FSRename", old.encode(), new.encode())

    def chmod(self, path: str, mode: int) -> None:
        self._checked("FSChmod", path.encode(), mode & 0xFFFFFFFF)


class NativeFS(FileSystem):
    """One mount of a native plugin; every mount of the fstype shares the plugin's instance."""

    def __init__(self, plugin: NativePlugin, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.plugin = plugin
        self.fstype = plugin.fstype  # type: ignore[misc]
        self._started = False

    async def start(self) -> None:
        if self.plugin.released:
            raise FSError(f"plugin {self.fstype} has been unloaded")
        self.plugin.mounted(self.config)
        self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            self.plugin.unmounted()

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        return self.plugin.read(path, offset, size)

    async def read_stream_with_info(
        self, path: str, offset: int = 0, size: int = -1
    ) -> tuple[FileInfo | None, AsyncIterator[bytes]]:
        """As the default, stat then read, without its two awaits (both are plain calls here)."""
        try:
            info: FileInfo | None = self.plugin.stat(path)
        except FSError:
            info = None  # the read answers: its own error, or the bytes
        return info, Buffered(self.plugin.read(path, offset, size))

    async def open_stream(self, path: str):
        raise no_streaming(self.config, path)

    @property
    def random_write(self) -> bool:
        """Offsets and append reach the plugin once its ABI is known to be AGFS's."""
        return self.plugin.abi == AGFS_ABI

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        if flags & WriteFlag.APPEND or (offset <= 0 and flags & WriteFlag.TRUNCATE):
            offset = _NO_POSITION  # as AGFS passes them: appends and replacements have none
        if self.plugin.abi == AGFS_ABI:
            return self.plugin.write(path, data, offset, flags)
        if self.plugin.abi == AUTO_ABI and (offset > 0 or flags & ~REPLACE):
            raise NotSupported(
                f"{self.fstype} takes offset and append writes only with AGFS's "
                "ABI, which it has not shown yet (a plain write shows it; or load it with "
                "abi: agfs)"
            )
        refuse_partial_write(self.fstype, path, max(offset, 0), flags)
        return self.plugin.write(path, data, offset, flags)

    async def stat(self, path: str) -> FileInfo:
        return self.plugin.stat(path)

    async def readdir(self, path: str) -> list[FileInfo]:
        return self.plugin.readdir(path)

    async def create(self, path: str) -> None:
        self.plugin.create(path)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        self.plugin.mkdir(path, mode)

    async def remove(self, path: str, recursive: bool = False) -> None:
        self.plugin.remove(path, recursive)

    async def rename(self, old: str, new: str) -> None:
        self.plugin.rename(old, new)

    async def chmod(self, path: str, mode: int) -> None:
        self.plugin.chmod(path, mode)
