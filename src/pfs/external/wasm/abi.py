"""The guest ABI's values (WASM_ABI.md): i32/i64 masks, packed pointer pairs, FileInfo JSON."""

from __future__ import annotations

import json
from typing import Any

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


def unpack(value: int) -> tuple[int, int]:
    """An i64 result carrying two u32s: (low, high), e.g. (pointer, length)."""
    value &= MASK64
    return value & MASK32, value >> 32


def info_from_json(obj: Any) -> FileInfo:
    """Guest FileInfo JSON: Go-style field names matched case-insensitively."""
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
    if isinstance(mod_time, int | float) and not isinstance(mod_time, bool):
        mtime_ns = int(mod_time * 1_000_000_000)
    elif isinstance(mod_time, str) and mod_time:
        mtime_ns = parse_time_ns(mod_time) if not mod_time.startswith("0001-01-01") else ZERO_TIME
    else:
        mtime_ns = ZERO_TIME
    try:
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
    except (TypeError, ValueError) as exc:
        raise FSError(f"failed to unmarshal file info: {exc}") from None


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
