"""The guest ABI's values (WASM_ABI.md, AGFS.md §7): i32/i64 masks, packed pointer pairs, the
ABI generation of a module, FileInfo JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson
import wasmtime

from pfs.fs.errors import FSError
from pfs.fs.fileinfo import FileInfo, Meta, parse_time_ns
from pfs.fs.gotime import format_rfc3339nano

I32 = wasmtime.ValType.i32()
I64 = wasmtime.ValType.i64()
MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

#: Go's zero time (0001-01-01T00:00:00Z) in Unix nanoseconds.
ZERO_TIME = -62135596800 * 1_000_000_000


#: Exports only AGFS's ABI (v2) has: a module with any of them but no ``fs_write`` is v2.
_V2_ONLY = ("handle_open", "plugin_get_config_params", "get_input_buffer_ptr")


def unpack(value: int) -> tuple[int, int]:
    """An i64 result carrying two u32s: (low, high), e.g. (pointer, length)."""
    value &= MASK64
    return value & MASK32, value >> 32


def module_version(module: wasmtime.Module) -> int:
    """1 for the original ABI, 2 for AGFS's: told apart by ``fs_write``'s type (3 params vs 5,
    AGFS.md §7.1); without ``fs_write``, by the exports only v2 has."""
    exports = {e.name: e.type for e in module.exports}
    fs_write = exports.get("fs_write")
    if isinstance(fs_write, wasmtime.FuncType):
        return 2 if len(fs_write.params) == 5 else 1
    return 2 if any(name in exports for name in _V2_ONLY) else 1


def write_result(value: int, length: int) -> tuple[int, int]:
    """A v2 ``fs_write`` result as (bytes written, error pointer).

    The shipped SDKs pack success as ``count`` (high 0) and failure as ``error << 32`` (low 0),
    the opposite of what AGFS's host reads (count high, error low). Decode the SDKs' way, and
    read ``count << 32`` AGFS's way only when it can be a count (at most ``length``): a
    pointer above the data's length cannot be (AGFS.md §7.2, careful impl).
    """
    low, high = unpack(value)
    if high == 0:
        return low, 0
    if low == 0:
        return (high, 0) if high <= length else (0, high)
    return 0, low  # both halves set: only AGFS's layout does that, with low the error


def guest_json(text: bytes, what: str) -> Any:
    """JSON a guest returned; ``what`` names the call in the error."""
    try:
        return json.loads(text.decode("utf-8", "replace"))
    except ValueError as exc:
        raise FSError(f"failed to unmarshal {what} result: {exc}") from None


#: The types of Go's FileInfo fields in JSON: Name, Size, Mode, ModTime, IsDir.
_GO_TYPES = (str, int, int, str, bool)
#: The Meta of entries that have none (shared: Metas are immutable once handed out).
NO_META = Meta("", "", None)


def info_from_text(text: bytes) -> FileInfo | None:
    """FileInfo JSON text in Go's exact field names and plain types (what Go's encoder and the
    SDKs write), decoded by orjson; None for anything else, left to ``guest_json`` and
    ``info_from_json``. orjson reads such text as ``json`` does (it reads the integers json
    keeps beyond 64 bits as floats, which the type checks refuse)."""
    try:
        return _go_info(orjson.loads(text))
    except orjson.JSONDecodeError:
        return None


def infos_from_text(text: bytes) -> list[FileInfo] | None:
    """A listing's JSON text, as ``info_from_text`` reads one entry; None unless every entry is
    plain (or the text is no array)."""
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(items) is not list:
        return None
    infos = []
    for item in items:
        info = _go_info(item)
        if info is None:
            return None
        infos.append(info)
    return infos


def _go_info(obj: Any) -> FileInfo | None:
    """``info_from_json``'s result for an object with exactly Go's field names, values of
    exactly the types Go writes and, if any, a Meta as plain; else None."""
    if type(obj) is not dict:
        return None
    fields = len(obj)
    if fields == 5:
        meta: Meta | None = NO_META
    elif fields == 6 and "Meta" in obj:
        meta = _go_meta(obj["Meta"])
        if meta is None:
            return None
    else:
        return None
    try:
        name, size, mode, mod_time, is_dir = (
            obj["Name"], obj["Size"], obj["Mode"], obj["ModTime"], obj["IsDir"]
        )
    except KeyError:
        return None
    if (type(name), type(size), type(mode), type(mod_time), type(is_dir)) != _GO_TYPES:
        return None
    return FileInfo(name, size, mode & MASK32, _mtime_ns(mod_time), is_dir, meta)


def _go_meta(obj: Any) -> Meta | None:
    """A Meta with exactly Go's field names, strings and string (or no) Content; else None."""
    if obj is None:
        return NO_META
    if type(obj) is not dict or len(obj) != 3:
        return None
    try:
        name, kind, content = obj["Name"], obj["Type"], obj["Content"]
    except KeyError:
        return None
    if type(name) is not str or type(kind) is not str:
        return None
    if content is None:
        return Meta(name, kind, None) if name or kind else NO_META
    if type(content) is not dict or not all(
        type(k) is str and type(v) is str for k, v in content.items()
    ):
        return None
    return Meta(name, kind, dict(content))


def info_from_json(obj: Any) -> FileInfo:
    """Guest FileInfo JSON: Go-style field names matched case-insensitively."""
    plain = _go_info(obj)
    return plain if plain is not None else _info_from_fields(obj)


def _info_from_fields(obj: Any) -> FileInfo:
    """``info_from_json`` for any object: each field looked up by its lower-cased name."""
    if not isinstance(obj, dict):
        raise FSError(f"failed to unmarshal file info: expected an object, got {obj!r}")
    fields = {str(k).lower(): v for k, v in obj.items()}
    meta = fields.get("meta")
    meta_fields = {str(k).lower(): v for k, v in meta.items()} if isinstance(meta, dict) else {}
    content = meta_fields.get("content")
    if isinstance(content, dict):
        content = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in content.items()}
    else:
        content = None
    mod_time = fields.get("modtime")
    try:
        if isinstance(mod_time, int | float) and not isinstance(mod_time, bool):
            mtime_ns = int(mod_time * 1_000_000_000)
        else:
            mtime_ns = _mtime_ns(mod_time)
        return FileInfo(
            name=str(fields.get("name") or ""),
            size=int(fields.get("size") or 0),
            mode=int(fields.get("mode") or 0) & MASK32,
            mtime_ns=mtime_ns,
            is_dir=bool(fields.get("isdir")),
            meta=Meta(
                str(meta_fields.get("name") or ""), str(meta_fields.get("type") or ""), content
            ),
        )
    except (TypeError, ValueError, OverflowError) as exc:  # e.g. a ModTime of NaN or Infinity
        raise FSError(f"failed to unmarshal file info: {exc}") from None


def _mtime_ns(mod_time: Any) -> int:
    """A ModTime text in Unix nanoseconds; Go's zero time for none or anything not a text."""
    if isinstance(mod_time, str) and mod_time:
        return parse_time_ns(mod_time) if not mod_time.startswith("0001-01-01") else ZERO_TIME
    return ZERO_TIME


def info_to_json(info: FileInfo) -> dict[str, Any]:
    """Host FileInfo for the guest: the Go default (capitalised) field names."""
    return {
        "Name": info.name,
        "Size": info.size,
        "Mode": info.mode,
        "ModTime": format_rfc3339nano(info.mtime_ns),
        "IsDir": info.is_dir,
        "Meta": {"Name": info.meta.name, "Type": info.meta.type, "Content": info.meta.content},
    }
