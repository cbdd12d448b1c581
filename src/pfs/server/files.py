"""Handlers for /files, /directories, /stat, /rename, /chmod."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import orjson

from pfs.fs.base import REPLACE, WriteFlag, replaces
from pfs.fs.errors import InvalidArgument
from pfs.fs.fileinfo import FileInfo
from pfs.fs.paths import normalize
from pfs.fs.turns import PER_TURN, map_in_turns
from pfs.server.http import (
    OCTET_TYPE,
    Request,
    Response,
    StreamResponse,
    json_bytes,
    json_response,
)
from pfs.server.ranges import range_response
from pfs.server.staging import staged

if TYPE_CHECKING:
    from pfs.server.app import Server

_FLAG_NAMES = {
    "append": WriteFlag.APPEND,
    "create": WriteFlag.CREATE,
    "exclusive": WriteFlag.EXCLUSIVE,
    "excl": WriteFlag.EXCLUSIVE,
    "truncate": WriteFlag.TRUNCATE,
    "trunc": WriteFlag.TRUNCATE,
}


def required_path(req: Request) -> str:
    path = req.query.get("path", "")
    if not path:
        raise InvalidArgument("path parameter is required")
    return path


#: Offsets and sizes are int64 on the wire, as in the original; anything larger is refused
#: before a plugin could try to allocate or seek that far.
INT64_MAX = (1 << 63) - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


def int_param(req: Request, name: str, default: int, minimum: int = -INT64_MAX - 1) -> int:
    """A decimal int64 query parameter no smaller than ``minimum``; ``default`` when absent."""
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not _DECIMAL.fullmatch(raw):
        raise InvalidArgument(f"invalid {name} parameter")
    # Past 19 digits it is out of range anyway (and int() of thousands of digits is slow).
    value = int(raw) if len(raw.lstrip("+-0")) <= 19 else None
    if value is None or not minimum <= value <= INT64_MAX:
        raise InvalidArgument(
            f"invalid {name} parameter: {raw[:40]} is out of range ({minimum} to {INT64_MAX})"
        )
    return value


def parse_flags(req: Request) -> WriteFlag:
    raw = req.query.get("flags")
    if raw is None:
        return REPLACE if "offset" not in req.query else WriteFlag.CREATE
    flags = WriteFlag.NONE
    for name in filter(None, (part.strip().lower() for part in raw.split(","))):
        flag = _FLAG_NAMES.get(name)
        if flag is None:
            raise InvalidArgument(
                f"invalid argument flags={raw}: unknown flag {name!r} "
                "(expected append, create, exclusive, truncate)"
            )
        flags |= flag
    return flags


def parse_mode(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0o755
    try:
        mode = int(raw, 8)
    except ValueError:
        raise InvalidArgument("invalid mode") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument("invalid mode")
    return mode


async def files(server: Server, req: Request) -> Response | StreamResponse:
    method = req.method
    if method == "GET":
        return await _read(server, req)
    if method == "PUT":
        return await _write(server, req)
    if method == "POST":
        await server.fs.create(required_path(req))
        return json_response({"message": "file created"}, 201)
    return await delete(server, req)


async def _read(server: Server, req: Request) -> Response | StreamResponse:
    path = required_path(req)
    query = req.query
    if len(query) > 1:  # anything beyond ``path``: the common plain read skips these checks
        if query.get("stream") == "true":
            return StreamResponse(await server.fs.open_stream(path))
        offset = max(int_param(req, "offset", 0), 0)
        size = int_param(req, "size", -1)
    else:
        offset, size = 0, -1
    range_header = req.header(b"range")
    if range_header is not None:
        return await range_response(server.fs, path, range_header.decode("latin-1"))
    if size >= 0 and size <= server.settings.inline_read_bytes:
        return Response(200, await server.fs.read(path, offset, size), OCTET_TYPE)
    return await server.read_response(path, offset, size)


async def _write(server: Server, req: Request) -> Response:
    path = required_path(req)
    offset = int_param(req, "offset", 0, minimum=0)
    flags = parse_flags(req)
    length = req.content_length()
    limit = server.settings.max_body_bytes
    if length is not None and length <= server.settings.inline_read_bytes:
        message = await server.fs.write(path, await req.body(limit), offset, flags)
    elif replaces(offset, flags) or not _writes_in_place(server, path):
        message = await server.fs.write_stream(path, req.stream(), offset, flags, limit)
    else:
        async with staged(req.stream()) as body:
            message = await server.fs.write_stream(path, body, offset, flags, limit)
    return json_response({"message": message})


def _writes_in_place(server: Server, path: str) -> bool:
    """Whether the plugin serving ``path`` applies offset and append writes as the body arrives
    (those get their body staged). Plugins without random writes refuse such writes, except
    streamfs, which forwards every piece to its readers at once and must not wait for the end."""
    found = server.fs.find(normalize(path))
    return found is not None and found[0].fs.random_write


async def delete(server: Server, req: Request) -> Response:
    await server.fs.remove(required_path(req), req.query.get("recursive") == "true")
    return json_response({"message": "deleted"})


async def directories(server: Server, req: Request) -> Response:
    if req.method == "GET":
        entries = await server.fs.readdir(req.query.get("path") or "/")
        return Response(200, await _listing_json(entries))
    if req.method == "POST":
        path = required_path(req)
        await server.fs.mkdir(path, parse_mode(req.query.get("mode")))
        return json_response({"message": "directory created"}, 201)
    return await delete(server, req)


async def _listing_json(entries: list[FileInfo]) -> bytes:
    """``{"files": [...]}`` encoded a slice at a time, so a huge listing shares the loop."""
    if not entries:
        return json_bytes({"files": None})
    slices = [entries[start : start + PER_TURN] for start in range(0, len(entries), PER_TURN)]
    parts = await map_in_turns(
        lambda part: orjson.dumps([e.to_json() for e in part])[1:-1], slices, per_turn=1
    )
    return b'{"files":[' + b",".join(parts) + b"]}\n"


async def stat(server: Server, req: Request) -> Response:
    info = await server.fs.stat(required_path(req))
    return json_response(info.to_json())


async def rename(server: Server, req: Request) -> Response:
    path = required_path(req)
    body = await server.json_body(req, "invalid request body")
    new_path = body_field(body, "newPath", str, "invalid request body")
    if not new_path:
        raise InvalidArgument("newPath is required")
    await server.fs.rename(path, new_path)
    return json_response({"message": "renamed"})


async def chmod(server: Server, req: Request) -> Response:
    path = required_path(req)
    body = await server.json_body(req, "invalid request body")
    mode = body_field(body, "mode", int, "invalid request body") or 0
    if not 0 <= mode <= 0xFFFFFFFF:
        raise InvalidArgument("invalid argument mode: out of range")
    await server.fs.chmod(path, mode)
    return json_response({"message": "permissions changed"})


def body_field(body: dict, name: str, kind: type, message: str):
    """A JSON field matched case-insensitively (as Go's decoder does), type-checked."""
    lowered = name.lower()
    for key, value in body.items():
        if key.lower() == lowered:
            if value is None:
                return None
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                raise InvalidArgument(f"{message}: {name} must be {kind.__name__}")
            if kind is not int and not isinstance(value, kind):
                raise InvalidArgument(f"{message}: {name} must be {kind.__name__}")
            return value
    return None
