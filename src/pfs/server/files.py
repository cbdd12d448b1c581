"""Handlers for /files, /directories, /stat, /rename, /chmod."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from pfs.fs.base import REPLACE, Buffered, WriteFlag, replaces
from pfs.fs.errors import FSError, InvalidArgument, IsADirectory
from pfs.fs.fileinfo import FileInfo
from pfs.fs.turns import PER_TURN, map_in_turns
from pfs.http.conditional import NOT_MODIFIED, Preconditions, validators
from pfs.http.ranges import range_response
from pfs.http.requests import Request
from pfs.http.responses import (
    OCTET_TYPE,
    Prefixed,
    Response,
    StreamResponse,
    error_response,
    json_bytes,
    json_response,
)
from pfs.server.requests import body_field, int_param, json_body, required_path
from pfs.server.staging import staged
from pfs.server.state import State
from pfs.server.waiting import read_waiting

_FLAG_NAMES = {
    "append": WriteFlag.APPEND,
    "create": WriteFlag.CREATE,
    "exclusive": WriteFlag.EXCLUSIVE,
    "excl": WriteFlag.EXCLUSIVE,
    "truncate": WriteFlag.TRUNCATE,
    "trunc": WriteFlag.TRUNCATE,
}


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


async def files(state: State, req: Request) -> Response | StreamResponse:
    method = req.method
    if method == "GET":
        return await _read(state, req)
    if method == "HEAD":
        return await _head(state, req)
    if method == "PUT":
        return await write(state, req)
    if method == "POST":
        await state.fs.create(required_path(req))
        return json_response({"message": "file created"}, 201)
    return await delete(state, req)


async def _read(state: State, req: Request) -> Response | StreamResponse:
    """A file's bytes, counted as sent (serverinfofs ``/traffic``) as they go out."""
    answer = await _read_answer(state, req)
    if isinstance(answer, StreamResponse):
        answer.chunks = state.fs.traffic.sending(answer.chunks)
    elif answer.status < 300:
        state.fs.traffic.sent += len(answer.body)
    return answer


async def _read_answer(state: State, req: Request) -> Response | StreamResponse:
    path = required_path(req)
    query = req.query
    if len(query) > 1:  # anything beyond ``path``: the common plain read skips these checks
        if query.get("stream") == "true":
            return StreamResponse(await state.fs.open_stream(path))
        if "wait" in query:
            return await read_waiting(state, req, path)
        offset = max(int_param(req, "offset", 0), 0)
        size = int_param(req, "size", -1)
    else:
        offset, size = 0, -1
    # The tags come from a stat taken before the read: a write landing in between gives newer
    # bytes under the older tag, so a later If-Match with it fails safe (412), never wrongly.
    range_header = req.header(b"range")
    if range_header is None and size < 0 and Preconditions.of(req.scope["headers"]) is None:
        # The plain GET: stat and read in one plugin call.
        info, chunks = await state.fs.read_stream_with_info(path, offset, size)
        answer = await _answer_of(chunks)
        if info is not None:
            answer.headers = [*(answer.headers or ()), *validators(info)]
        return answer
    try:
        info = await state.fs.stat(path)
    except FSError:
        info = None  # no tags; the read itself answers (its own error, or the bytes)
    tags: list[tuple[bytes, bytes]] = []
    if info is not None:
        refused = _refused(req, info, reading=True)
        if refused is not None:
            return refused
        tags = validators(info)
    if range_header is not None:
        ranged = await range_response(
            state.fs,
            path,
            info or await state.fs.stat(path),
            range_header.decode("latin-1"),
            headers=tags,
        )
        if ranged is not None:
            return ranged
        # Not a single byte range: ignored (RFC 9110), the whole file is the answer.
        return StreamResponse(await state.fs.read_stream(path), headers=tags)
    if size >= 0 and size <= state.settings.inline_read_bytes:
        return Response(200, await state.fs.read(path, offset, size), OCTET_TYPE, tags)
    answer = await _read_response(state, path, offset, size)
    if tags:
        if isinstance(answer, Response):
            answer.headers = tags
        else:
            answer.headers.extend(tags)
    return answer


def _refused(req: Request, info: FileInfo | None, reading: bool) -> Response | None:
    """The 304 or 412 the request's conditional headers ask for, if any. Files whose read has an
    effect have no tags to compare: their conditions are not evaluated."""
    conditions = Preconditions.of(req.scope.get("headers", ()))
    if conditions is None or (info is not None and info.read_effect):
        return None
    status = conditions.evaluate(info, reading)
    if status is None:
        return None
    if status == NOT_MODIFIED:
        return Response(304, b"", OCTET_TYPE, validators(info) if info is not None else None)
    return error_response(
        status, f"precondition failed: {req.query.get('path')}: {conditions}", _KIND_412
    )


_KIND_412 = [(b"x-pfs-error-kind", b"PreconditionFailed")]


async def _head(state: State, req: Request) -> Response:
    """``HEAD /files``: the headers a plain GET answers with, from stat alone (so a read-effect
    file such as a queue's ``dequeue`` is never consumed)."""
    path = required_path(req)
    info = await state.fs.stat(path)
    if info.is_dir:
        raise IsADirectory(f"is a directory: {path}")
    refused = _refused(req, info, reading=True)
    if refused is not None:
        return refused
    headers = [(b"content-length", b"%d" % info.size), *validators(info)]
    if not info.read_effect:
        headers.append((b"accept-ranges", b"bytes"))
    return Response(200, b"", OCTET_TYPE, headers)


async def _read_response(
    state: State, path: str, offset: int, size: int
) -> Response | StreamResponse:
    """A read as one response when it fits in one chunk, else streamed as it is read."""
    return await _answer_of(await state.fs.read_stream(path, offset, size))


async def _answer_of(chunks: AsyncIterator[bytes]) -> Response | StreamResponse:
    """The response carrying ``chunks``: one body when they fit in one chunk, else streamed."""
    if isinstance(chunks, Buffered):
        return Response(200, chunks.data, OCTET_TYPE)
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        return Response(200, b"", OCTET_TYPE)
    try:
        second = await chunks.__anext__()
    except StopAsyncIteration:
        return Response(200, first, OCTET_TYPE)
    return StreamResponse(Prefixed([first, second], chunks))


async def write(state: State, req: Request) -> Response:
    """``PUT /files`` (and the raw form of ``POST /write``)."""
    path = required_path(req)
    offset = int_param(req, "offset", 0, minimum=0)
    flags = parse_flags(req)
    length = req.content_length()
    limit = state.settings.max_body_bytes
    traffic = state.fs.traffic
    conditions = Preconditions.of(req.scope.get("headers", ()))
    if conditions is not None and conditions.guards_change:
        message = await state.fs.write_if(
            path, traffic.receiving(req.stream()), conditions, offset, flags, limit
        )
    elif length is not None and length <= state.settings.inline_read_bytes:
        data = await req.body(limit)
        traffic.received += len(data)
        message = await state.fs.write(path, data, offset, flags)
    elif replaces(offset, flags) or not _writes_in_place(state, path):
        message = await state.fs.write_stream(
            path, traffic.receiving(req.stream()), offset, flags, limit
        )
    else:
        async with staged(traffic.receiving(req.stream())) as body:
            message = await state.fs.write_stream(path, body, offset, flags, limit)
    return json_response({"message": message})


def _writes_in_place(state: State, path: str) -> bool:
    """Whether the plugin serving ``path`` applies offset and append writes as the body arrives
    (those get their body staged). Plugins without random writes refuse such writes, except
    streamfs, which forwards every piece to its readers at once and must not wait for the end."""
    mount = state.fs.serving(path)
    return mount is not None and mount.fs.random_write


async def delete(state: State, req: Request) -> Response:
    path = required_path(req)
    recursive = req.query.get("recursive") == "true"
    conditions = Preconditions.of(req.scope.get("headers", ()))
    if conditions is not None and conditions.guards_change:
        await state.fs.remove_if(path, conditions, recursive)
    else:
        await state.fs.remove(path, recursive)
    return json_response({"message": "deleted"})


async def directories(state: State, req: Request) -> Response:
    if req.method == "GET":
        entries = await state.fs.readdir(req.query.get("path") or "/")
        return Response(200, await _listing_json(entries))
    if req.method == "POST":
        path = required_path(req)
        await state.fs.mkdir(path, parse_mode(req.query.get("mode")))
        return json_response({"message": "directory created"}, 201)
    return await delete(state, req)


async def _listing_json(entries: list[FileInfo]) -> bytes:
    """``{"files": [...]}`` encoded a slice at a time, so a huge listing shares the loop."""
    if not entries:
        return json_bytes({"files": None})
    slices = [entries[start : start + PER_TURN] for start in range(0, len(entries), PER_TURN)]
    parts = await map_in_turns(
        lambda part: orjson.dumps([e.to_json() for e in part])[1:-1], slices, per_turn=1
    )
    return b'{"files":[' + b",".join(parts) + b"]}\n"


async def stat(state: State, req: Request) -> Response:
    info = await state.fs.stat(required_path(req))
    return json_response(info.to_json())


async def rename(state: State, req: Request) -> Response:
    path = required_path(req)
    body = await json_body(req, state.settings.max_json_bytes)
    new_path = body_field(body, "newPath", str)
    if not new_path:
        raise InvalidArgument("newPath is required")
    await state.fs.rename(path, new_path)
    return json_response({"message": "renamed"})


async def chmod(state: State, req: Request) -> Response:
    path = required_path(req)
    body = await json_body(req, state.settings.max_json_bytes)
    mode = body_field(body, "mode", int) or 0
    if not 0 <= mode <= 0xFFFFFFFF:
        raise InvalidArgument("invalid argument mode: out of range")
    await state.fs.chmod(path, mode)
    return json_response({"message": "permissions changed"})
