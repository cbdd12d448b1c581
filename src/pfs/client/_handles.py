"""The handle API (``/api/v1/handles``) as calls both clients send: no I/O here.

``open_handle`` takes the flags as the server encodes them (``pfs.fs.OpenFlag``) or as an
``open()`` mode string (``"r"``, ``"r+"``, ``"w"``, ``"a"``, ``"x"``, each with ``+``).
"""

from __future__ import annotations

import json
from typing import Any

from pfs.client._base import Call
from pfs.fs.errors import FSError
from pfs.fs.fileinfo import FileInfo
from pfs.fs.handles import OpenFlag

RD, WR, RDWR = OpenFlag.RDONLY, OpenFlag.WRONLY, OpenFlag.RDWR
_C, _X, _T, _A = OpenFlag.CREATE, OpenFlag.EXCL, OpenFlag.TRUNC, OpenFlag.APPEND

#: ``open()`` modes (``b`` ignored: handles carry bytes) and the flags they mean.
MODES: dict[str, OpenFlag] = {
    "r": RD,
    "r+": RDWR,
    "w": WR | _C | _T,
    "w+": RDWR | _C | _T,
    "a": WR | _C | _A,
    "a+": RDWR | _C | _A,
    "x": WR | _C | _X,
    "x+": RDWR | _C | _X,
}

#: Bytes one read asks for when reading to the end; the server answers at most 16 MiB a read.
READ_PIECE = 1 << 20


def open_flags(flags: int | str) -> OpenFlag:
    if isinstance(flags, str):
        found = MODES.get(flags.replace("b", ""))
        if found is None:
            raise ValueError(f"invalid mode {flags!r}: expected one of {', '.join(MODES)}")
        return found
    return OpenFlag(flags)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise FSError(f"invalid JSON from server: {exc}") from None
    if not isinstance(value, dict):
        raise FSError(f"unexpected JSON from server: {body[:200]!r}")
    return value


def _endpoint(handle_id: int, op: str = "") -> str:
    return f"/handles/{handle_id}" + (f"/{op}" if op else "")


def open_handle(path: str, flags: OpenFlag, mode: int, lease: int) -> Call[dict[str, Any]]:
    params = {"path": path, "flags": str(int(flags)), "mode": f"{mode:o}", "lease": str(lease)}
    return Call("POST", "/handles/open", params, parse=_json)


def handles() -> Call[list[dict[str, Any]]]:
    return Call("GET", "/handles/", parse=lambda body: _json(body).get("handles") or [])


def info(handle_id: int) -> Call[dict[str, Any]]:
    return Call("GET", _endpoint(handle_id), parse=_json)


def read(handle_id: int, size: int, offset: int | None) -> Call[bytes]:
    params = {"size": str(size)}
    if offset is not None:
        params["offset"] = str(offset)
    return Call("GET", _endpoint(handle_id, "read"), params, parse=bytes)


def write(handle_id: int, offset: int | None) -> Call[int]:
    params = {} if offset is None else {"offset": str(offset)}
    return Call(
        "PUT",
        _endpoint(handle_id, "write"),
        params,
        parse=lambda body: int(_json(body).get("bytes_written", 0)),
    )


def seek(handle_id: int, offset: int, whence: int) -> Call[int]:
    params = {"offset": str(offset), "whence": str(whence)}
    return Call(
        "POST", _endpoint(handle_id, "seek"), params, parse=lambda body: _json(body)["position"]
    )


def sync(handle_id: int) -> Call[dict[str, Any]]:
    return Call("POST", _endpoint(handle_id, "sync"), parse=_json)


def stat(handle_id: int) -> Call[FileInfo]:
    return Call(
        "GET", _endpoint(handle_id, "stat"), parse=lambda body: FileInfo.from_json(_json(body))
    )


def stream(handle_id: int) -> Call[bytes]:
    return Call("GET", _endpoint(handle_id, "stream"), parse=bytes)


def renew(handle_id: int, lease: int | None) -> Call[dict[str, Any]]:
    params = {} if lease is None else {"lease": str(lease)}
    return Call("POST", _endpoint(handle_id, "renew"), params, parse=_json)


def truncate(handle_id: int, size: int) -> Call[dict[str, Any]]:
    return Call("POST", _endpoint(handle_id, "truncate"), {"size": str(size)}, parse=_json)


def close(handle_id: int) -> Call[dict[str, Any]]:
    return Call("DELETE", _endpoint(handle_id), parse=_json)
