"""Handlers for /grep and /digest."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import re2
import xxhash

from pfs.fs.errors import FSError, InvalidArgument
from pfs.fs.fileinfo import ReadEffect
from pfs.server.files import body_field
from pfs.server.http import Request, Response, StreamResponse, json_bytes, json_response

if TYPE_CHECKING:
    from pfs.server.app import Server

log = logging.getLogger("pfs.server.search")

MAX_LINE = 64 * 1024


class _Xxh3Low64:
    """The original's "xxh3": the low 64 bits of XXH3-128 (seed 0)."""

    def __init__(self) -> None:
        self._h = xxhash.xxh3_128()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return format(self._h.intdigest() & (2**64 - 1), "016x")


_EFFECT_WORDS = {
    ReadEffect.CONSUMES: "consumes data",
    ReadEffect.ENDLESS: "never ends",
}

_DIGESTS = {"xxh3": _Xxh3Low64, "md5": hashlib.md5}


async def digest(server: Server, req: Request) -> Response:
    body = await server.json_body(req, "invalid request body")
    algorithm = body_field(body, "algorithm", str, "invalid request body") or "xxh3"
    path = body_field(body, "path", str, "invalid request body")
    factory = _DIGESTS.get(algorithm)
    if factory is None:
        raise InvalidArgument(f"unsupported algorithm: {algorithm} (supported: xxh3, md5)")
    if not path:
        raise InvalidArgument("path is required")
    hasher = factory()
    try:
        info = await server.fs.stat(path)
        if info.read_effect:
            raise InvalidArgument(
                f"{path}: reading this file {_EFFECT_WORDS[info.read_effect]}, so it is not digested"
            )
        chunks = await server.fs.read_stream(path)
        async for chunk in chunks:
            hasher.update(chunk)
    except FSError as exc:
        exc.message = f"failed to calculate digest: {exc.message}"
        raise
    return json_response({"algorithm": algorithm, "path": path, "digest": hasher.hexdigest()})


def _match_lines(data: bytes, pattern: Any, path: str) -> list[dict[str, Any]]:
    matches = []
    text = data.decode("utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:
            raise FSError("bufio.Scanner: token too long")
        if pattern.search(line):
            matches.append({"file": path, "line": number, "content": line})
    return matches


async def _grep_file(server: Server, path: str, pattern: Any) -> list[dict[str, Any]]:
    data = await server.fs.read(path)
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        return []
    return _match_lines(data, pattern, path)


async def _targets(server: Server, path: str, is_dir: bool) -> AsyncIterator[str]:
    if not is_dir:
        yield path
        return
    async for child in server.fs.walk_files(path):
        yield child


async def grep(server: Server, req: Request) -> Response | StreamResponse:
    try:
        body = await req.json(server.settings.max_json_bytes)
    except Exception as exc:
        raise InvalidArgument(f"invalid request body: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("invalid request body: expected a JSON object")
    path = body_field(body, "path", str, "invalid request body")
    pattern_text = body_field(body, "pattern", str, "invalid request body")
    recursive = bool(body_field(body, "recursive", bool, "invalid request body"))
    insensitive = bool(body_field(body, "case_insensitive", bool, "invalid request body"))
    stream = bool(body_field(body, "stream", bool, "invalid request body"))
    if not path:
        raise InvalidArgument("path is required")
    if not pattern_text:
        raise InvalidArgument("pattern is required")
    options = re2.Options()
    options.case_sensitive = not insensitive
    try:
        pattern = re2.compile(pattern_text, options)
    except re2.error as exc:
        raise InvalidArgument(f"invalid regex pattern: {exc}") from None
    try:
        info = await server.fs.stat(path)
    except FSError as exc:
        exc.message = f"failed to stat path: {exc.message}"
        raise
    dir_error = "path is a directory, use recursive=true to search"
    if info.is_dir and not recursive:
        if stream:
            return StreamResponse(_one(json_bytes({"error": dir_error})), b"application/x-ndjson")
        raise InvalidArgument(dir_error)
    if stream:
        return StreamResponse(_grep_stream(server, path, info.is_dir, pattern),
                              b"application/x-ndjson")
    matches: list[dict[str, Any]] = []
    async for target in _targets(server, path, info.is_dir):
        try:
            matches.extend(await _grep_file(server, target, pattern))
        except FSError as exc:
            if not info.is_dir:
                raise FSError(f"grep failed: {exc.message}") from exc
            log.debug("grep skipped %s: %s", target, exc)
    return json_response({"matches": matches, "count": len(matches)})


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _grep_stream(server: Server, path: str, is_dir: bool, pattern: Any):
    count = 0
    error = None
    async for target in _targets(server, path, is_dir):
        try:
            found = await _grep_file(server, target, pattern)
        except FSError as exc:
            if not is_dir:
                error = f"grep failed: {exc.message}"
            continue
        for match in found:
            count += 1
            yield json_bytes(match)
    summary: dict[str, Any] = {"count": count, "type": "summary"}
    if error:
        summary = {"count": count, "error": error, "type": "summary"}
    yield json_bytes(summary)
