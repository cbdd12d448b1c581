"""Handlers for /grep and /digest.

grep reads each file as a stream of pieces and matches them as they come (grep_lines.py), so one
request holds a piece, one unfinished line and the matches of its answer, never a whole file. Large
pieces are matched on a worker thread; a client that leaves stops the search at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import xxhash

from pfs.fs.errors import FSError, InvalidArgument, TooLarge
from pfs.fs.fileinfo import ReadEffect
from pfs.http.requests import ClientGone, Request, wait_disconnect
from pfs.http.responses import Response, StreamResponse, json_bytes, json_response
from pfs.server.grep_lines import FileLines, LinePattern
from pfs.server.requests import BAD_BODY, body_field, json_body
from pfs.server.state import State

log = logging.getLogger("pfs.server.search")


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


async def digest(state: State, req: Request) -> Response:
    body = await json_body(req, state.settings.max_json_bytes)
    algorithm = body_field(body, "algorithm", str) or "xxh3"
    path = body_field(body, "path", str)
    factory = _DIGESTS.get(algorithm)
    if factory is None:
        raise InvalidArgument(f"unsupported algorithm: {algorithm} (supported: xxh3, md5)")
    if not path:
        raise InvalidArgument("path is required")
    hasher = factory()
    try:
        info = await state.fs.stat(path)
        if info.read_effect:
            effect = _EFFECT_WORDS[info.read_effect]
            raise InvalidArgument(f"{path}: reading this file {effect}, so it is not digested")
        chunks = await state.fs.read_stream(path)
        async for chunk in chunks:
            hasher.update(chunk)
    except FSError as exc:
        raise exc.with_context("failed to calculate digest") from exc
    return json_response({"algorithm": algorithm, "path": path, "digest": hasher.hexdigest()})


#: Most hits one matching step hands back: bounds the matches in flight and the Python work of
#: a step, which may run on the event loop (see _INLINE_BYTES).
_BATCH = 1024

#: Pieces up to this size are matched on the event loop: a thread hop costs more than they do.
#: Bigger ones go to a worker thread (RE2 releases the GIL), so other requests keep running.
_INLINE_BYTES = 8 << 10


class _Budget:
    """What one grep request may still take: matches (``limit``) and bytes read (the server's
    ``grep_max_scan_bytes``); 0 means no bound."""

    __slots__ = ("matches_left", "bytes_left", "truncated")

    def __init__(self, limit: int, max_scan_bytes: int) -> None:
        self.matches_left = limit if limit > 0 else None
        self.bytes_left = max_scan_bytes if max_scan_bytes > 0 else None
        self.truncated = False  # the scan cap stopped the search

    @property
    def spent(self) -> bool:
        return self.truncated or self.matches_left == 0

    def room(self) -> int:
        return _BATCH if self.matches_left is None else min(_BATCH, self.matches_left)

    def found(self, count: int) -> None:
        if self.matches_left is not None:
            self.matches_left -= count

    def read(self, size: int) -> bool:
        """Count ``size`` more bytes read; False (and ``truncated``) when they exceed the cap."""
        if self.bytes_left is None:
            return True
        if size > self.bytes_left:
            self.truncated = True
            return False
        self.bytes_left -= size
        return True


async def _step(size: int, call: Any, *args: Any) -> list[tuple[int, str]]:
    if size <= _INLINE_BYTES:
        return call(*args)
    return await asyncio.to_thread(call, *args)


async def _grep_file(
    state: State, path: str, pattern: LinePattern, budget: _Budget
) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of ``{"file", "line", "content"}`` as the file is read piece by piece."""
    lines = FileLines(pattern)

    async def drain(found: list[tuple[int, str]]) -> AsyncIterator[list[dict[str, Any]]]:
        while True:
            if found:
                budget.found(len(found))
                yield [{"file": path, "line": number, "content": text} for number, text in found]
            if budget.spent or not lines.pending:
                return
            found = await _step(lines.block_size, lines.hits, budget.room())

    chunks = await state.fs.read_stream(path)
    try:
        async for piece in chunks:
            if not budget.read(len(piece)):
                return
            found = await _step(len(piece), lines.feed, piece, budget.room())
            async for batch in drain(found):
                yield batch
            if budget.spent:
                return
        async for batch in drain(lines.end(budget.room())):
            yield batch
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _targets(state: State, path: str, is_dir: bool) -> AsyncIterator[str]:
    if not is_dir:
        yield path
        return
    async for child in state.fs.walk_files(path):
        yield child


async def _matches(
    state: State, path: str, is_dir: bool, pattern: LinePattern, budget: _Budget
) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of matches below ``path``; a file that fails is skipped in a walk, and raises
    (as ``grep failed: ...``, its status kept) when it is the one file asked for."""
    async for target in _targets(state, path, is_dir):
        try:
            async with contextlib.aclosing(_grep_file(state, target, pattern, budget)) as batches:
                async for batch in batches:
                    yield batch
        except FSError as exc:
            if not is_dir:
                raise exc.with_context("grep failed") from exc
            log.debug("grep skipped %s: %s", target, exc)
        if budget.spent:
            return


async def grep(state: State, req: Request) -> Response | StreamResponse:
    try:
        body = await req.json(state.settings.max_json_bytes)
    except Exception as exc:
        raise InvalidArgument(f"{BAD_BODY}: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument(f"{BAD_BODY}: expected a JSON object")
    path = body_field(body, "path", str)
    pattern_text = body_field(body, "pattern", str)
    recursive = bool(body_field(body, "recursive", bool))
    insensitive = bool(body_field(body, "case_insensitive", bool))
    stream = bool(body_field(body, "stream", bool))
    limit = body_field(body, "limit", int) or 0
    if not path:
        raise InvalidArgument("path is required")
    if not pattern_text:
        raise InvalidArgument("pattern is required")
    pattern = LinePattern(pattern_text, insensitive)
    try:
        info = await state.fs.stat(path)
    except FSError as exc:
        raise exc.with_context("failed to stat path") from exc
    dir_error = "path is a directory, use recursive=true to search"
    if info.is_dir and not recursive:
        if stream:
            return StreamResponse(_one(json_bytes({"error": dir_error})), b"application/x-ndjson")
        raise InvalidArgument(dir_error)
    if info.read_effect:
        effect = _EFFECT_WORDS[info.read_effect]
        raise InvalidArgument(f"{path}: reading this file {effect}, so it is not grepped")
    budget = _Budget(limit, state.settings.grep_max_scan_bytes)
    found = _matches(state, path, info.is_dir, pattern, budget)
    if stream:
        return StreamResponse(_ndjson(found, budget), b"application/x-ndjson")
    matches = await _until_disconnect(req, _collect(found, state.settings.grep_max_answer_bytes))
    answer: dict[str, Any] = {"matches": matches, "count": len(matches)}
    if budget.truncated:
        answer["truncated"] = True
    return json_response(answer)


async def _collect(found: AsyncIterator[list[dict[str, Any]]], cap: int) -> list[dict[str, Any]]:
    """All matches for one JSON answer, refused (413) past ``cap`` bytes of them."""
    matches: list[dict[str, Any]] = []
    held = 0
    async with contextlib.aclosing(found):
        async for batch in found:
            for match in batch:
                held += len(match["content"]) + len(match["file"]) + 32
            if cap > 0 and held > cap:
                raise TooLarge(
                    f"grep answer too large: over {cap} bytes of matches "
                    f"(server.grep_max_answer_bytes) after {len(matches) + len(batch)} matches; "
                    "narrow the search, pass limit, or use stream=true"
                )
            matches.extend(batch)
    return matches


async def _until_disconnect(req: Request, work: Awaitable[Any]) -> Any:
    """``work``'s result, or ClientGone (and ``work`` cancelled) as soon as the client leaves."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(wait_disconnect(req.receive))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()
        watch.cancel()
        await asyncio.gather(task, watch, return_exceptions=True)
    if task.cancelled():
        raise ClientGone("client disconnected during grep")
    return task.result()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _ndjson(found: AsyncIterator[list[dict[str, Any]]], budget: _Budget):
    count = 0
    error = None
    try:
        async with contextlib.aclosing(found):
            async for batch in found:
                count += len(batch)
                yield b"".join(json_bytes(match) for match in batch)
    except FSError as exc:
        error = exc.message
    summary: dict[str, Any] = {"count": count}  # keys in the original's (sorted) order
    if error:
        summary["error"] = error
    if budget.truncated:
        summary["truncated"] = True
    summary["type"] = "summary"
    yield json_bytes(summary)
