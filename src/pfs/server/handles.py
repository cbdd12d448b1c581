"""``/api/v1/handles/...``: open files with ids and leases (AGFS's handle API).

``POST /handles/open?path&flags&mode&lease`` answers a numeric ``handle_id``; the other routes
name it: ``GET /handles/{id}`` (info), ``DELETE /handles/{id}`` (close), ``GET .../read``,
``PUT .../write``, ``POST .../seek``, ``POST .../sync``, ``GET .../stat``, ``GET .../stream``,
``POST .../renew``, ``POST .../truncate``; ``GET /handles/`` lists them. The handles themselves
live in the mount table (:mod:`pfs.fs.handle_table`), which closes a mount's at unmount.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pfs.fs.errors import InvalidArgument, NotFound, PermissionDenied
from pfs.fs.gotime import format_rfc3339nano
from pfs.fs.handle_table import DEFAULT_LEASE, OpenHandle, check_lease
from pfs.fs.handles import OpenFlag, changes_data
from pfs.http.requests import Request
from pfs.http.responses import OCTET_TYPE, Response, StreamResponse, json_response
from pfs.server.auth import Role
from pfs.server.requests import INT64_MAX, int_param, required_path
from pfs.server.staging import staged
from pfs.server.state import State

PREFIX = "/api/v1/handles/"

#: Bytes a read returns without ``size``, and with a negative one (AGFS's values).
DEFAULT_READ = 4096
NEGATIVE_READ = 1 << 20
#: Most bytes one read may ask for: the answer is held whole in memory.
MAX_READ = 16 << 20

#: Linux ``open(2)`` bits the Go SDK (so agfs-fuse) sends instead of the server's; they are
#: unused by the server encoding, so honouring them is safe. Linux O_CREAT (64) is the server's
#: TRUNC and stays TRUNC.
_LINUX_FLAGS = {512: OpenFlag.TRUNC, 1024: OpenFlag.APPEND, 128: OpenFlag.EXCL}
_SERVER_FLAGS = OpenFlag.APPEND | OpenFlag.CREATE | OpenFlag.EXCL | OpenFlag.TRUNC


def parse_open_flags(raw: str | None) -> OpenFlag:
    """The ``flags`` parameter: a decimal bitmask in the server encoding (empty: read-only)."""
    if raw is None or raw == "":
        return OpenFlag.RDONLY
    try:
        bits = int(raw) if len(raw) <= 20 else -1
    except ValueError:
        bits = -1
    if not 0 <= bits <= INT64_MAX:
        raise InvalidArgument("invalid flags parameter: must be a number")
    access = bits & 3
    if access == 3:
        raise InvalidArgument(
            "invalid flags parameter: access mode 3 (the low two bits are 0 read-only, "
            "1 write-only or 2 read-write)"
        )
    flags = OpenFlag(access) | OpenFlag(bits & _SERVER_FLAGS)
    for bit, flag in _LINUX_FLAGS.items():
        if bits & bit:
            flags |= flag
    return flags


def parse_open_mode(raw: str | None) -> int:
    """The ``mode`` parameter: octal permission bits, 0644 when absent."""
    if raw is None or raw == "":
        return 0o644
    try:
        mode = int(raw, 8)
    except ValueError:
        raise InvalidArgument(f"invalid mode parameter: {raw[:40]!r} is not octal") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid mode parameter: {raw[:40]} is out of range (0 to 7777)")
    return mode


def _info(handle: OpenHandle) -> dict[str, object]:
    return {
        "handle_id": handle.id,
        "path": handle.path,
        "flags": int(handle.flags),
        "lease": handle.lease,
        "expires_at": format_rfc3339nano(handle.expires_ns),
        "created_at": format_rfc3339nano(handle.created_ns),
        "last_access": format_rfc3339nano(handle.last_access_ns),
        "position": handle.position,
    }


def _handle(state: State, req: Request) -> OpenHandle:
    """The handle the path names (``/api/v1/handles/{id}/...``)."""
    raw = req.path[len(PREFIX) :].split("/", 1)[0]
    if not raw.isdigit() or len(raw) > 19 or int(raw) > INT64_MAX:
        raise InvalidArgument("invalid handle ID: must be a number")
    return state.fs.handles.get(int(raw))


def _optional_offset(req: Request) -> int | None:
    if req.query.get("offset", "") == "":
        return None
    return int_param(req, "offset", 0, minimum=0)


# -- the collection ----------------------------------------------------------------------------


async def redirect(state: State, req: Request) -> Response:
    """``/api/v1/handles`` → ``/api/v1/handles/`` (301, as AGFS; clients follow it to the list)."""
    query = req.scope.get("query_string", b"")
    location = PREFIX.encode() + (b"?" + query if query else b"")
    return Response(301, b"", b"text/plain; charset=utf-8", [(b"location", location)])


async def listing(state: State, req: Request) -> Response:
    handles = state.fs.handles.list()
    return json_response({
        "handles": [_info(h) for h in handles],
        "count": len(handles),
        "max": state.fs.handles.max_open,
    })


async def open_handle(state: State, req: Request) -> Response:
    path = required_path(req)
    flags = parse_open_flags(req.query.get("flags"))
    mode = parse_open_mode(req.query.get("mode"))
    lease = check_lease(int_param(req, "lease", DEFAULT_LEASE))
    role = req.scope.get("pfs.role")
    if changes_data(flags) and role is not None and role < Role.WRITE:
        raise PermissionDenied(
            f"permission denied: role '{role.name.lower()}' can open handles for reading only "
            "(writing, creating or truncating needs 'write')"
        )
    handle = await state.fs.open_handle(path, flags, mode, lease)
    return json_response({
        "handle_id": handle.id,
        "path": path,
        "flags": int(flags),
        "lease": handle.lease,
        "expires_at": format_rfc3339nano(handle.expires_ns),
    })


# -- one handle --------------------------------------------------------------------------------


async def handle(state: State, req: Request) -> Response:
    """``GET /handles/{id}`` (info) and ``DELETE /handles/{id}`` (close)."""
    opened = _handle(state, req)
    if req.method == "GET":
        return json_response(_info(opened))
    await state.fs.handles.close(opened.id)
    return json_response({"message": "handle closed"})


async def read(state: State, req: Request) -> Response:
    opened = _handle(state, req)
    size = int_param(req, "size", DEFAULT_READ)
    if size < 0:
        size = NEGATIVE_READ
    elif size > MAX_READ:
        raise InvalidArgument(
            f"invalid size parameter: {size} is more than one handle read returns "
            f"({MAX_READ} bytes); read in parts"
        )
    data = await opened.read(size, _optional_offset(req))
    state.fs.traffic.sent += len(data)
    return Response(200, data, OCTET_TYPE, [(b"x-bytes-read", str(len(data)).encode())])


async def write(state: State, req: Request) -> Response:
    """The body is taken like ``PUT /files``'s: whole in memory up to the inline size, else
    staged (so an abandoned upload writes nothing), and at most ``server.max_body_bytes`` where
    the plugin must buffer it."""
    opened = _handle(state, req)
    offset = _optional_offset(req)
    limit = state.settings.max_body_bytes
    length = req.content_length()
    traffic = state.fs.traffic
    if length is not None and length <= state.settings.inline_read_bytes:
        data = await req.body(limit)
        traffic.received += len(data)
        written = await opened.write(_once(data), offset, limit)
    else:
        async with staged(traffic.receiving(req.stream())) as body:
            written = await opened.write(body, offset, limit)
    return json_response({"bytes_written": written, "position": opened.position})


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def seek(state: State, req: Request) -> Response:
    opened = _handle(state, req)
    if req.query.get("offset", "") == "":
        raise InvalidArgument("offset parameter is required")
    offset = int_param(req, "offset", 0)
    whence = req.query.get("whence") or "0"
    if whence not in ("0", "1", "2"):
        raise InvalidArgument("invalid whence parameter (must be 0, 1, or 2)")
    position = await opened.seek(offset, int(whence))
    # ``offset`` too: the Go SDK reads that name.
    return json_response({"position": position, "offset": position})


async def sync(state: State, req: Request) -> Response:
    await _handle(state, req).sync()
    return json_response({"message": "synced"})


async def stat(state: State, req: Request) -> Response:
    info = await _handle(state, req).stat()
    return json_response(info.to_json())


async def stream(state: State, req: Request) -> StreamResponse:
    """The bytes from the handle's position to EOF (a live stream: as they come), chunked."""
    opened = _handle(state, req)
    if not opened.readable:
        raise PermissionDenied(f"{opened.path}: read: handle not opened for reading")
    return StreamResponse(state.fs.traffic.sending(opened.stream()))


async def renew(state: State, req: Request) -> Response:
    opened = _handle(state, req)
    lease = req.query.get("lease")
    opened.renew(None if lease is None or lease == "" else int_param(req, "lease", 0))
    return json_response({
        "handle_id": opened.id,
        "lease": opened.lease,
        "expires_at": format_rfc3339nano(opened.expires_ns),
    })


async def truncate(state: State, req: Request) -> Response:
    opened = _handle(state, req)
    if req.query.get("size", "") == "":
        raise InvalidArgument("size parameter is required")
    await opened.truncate(int_param(req, "size", 0, minimum=0))
    return json_response({"message": "truncated"})


async def unknown(state: State, req: Request) -> Response:
    rest = req.path[len(PREFIX) :].split("/", 1)[1]
    raise NotFound(f"unknown operation: {rest}")
