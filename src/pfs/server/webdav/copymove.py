"""COPY and MOVE (RFC 4918 §9.8-9.9). A move within one mount is the plugin's rename; across
mounts it is a copy (streamed, file by file) and then a delete of the source, which is kept
when any member could not be copied."""

from __future__ import annotations

import contextlib

from pfs.fs.base import REPLACE
from pfs.fs.errors import (
    BadGateway,
    CrossMount,
    FSError,
    InvalidArgument,
    PermissionDenied,
    PreconditionFailed,
)
from pfs.fs.fileinfo import FileInfo
from pfs.fs.links import LINK_TYPE
from pfs.fs.paths import join
from pfs.http.requests import Request
from pfs.http.responses import Response
from pfs.server.webdav import xmlbodies as x
from pfs.server.webdav.context import Dav, depth
from pfs.server.webdav.reading import XML_TYPE


async def copy(dav: Dav, req: Request, path: str) -> Response:
    infinite = depth(req, "infinity", ("0", "infinity")) == "infinity"
    return await _transfer(dav, req, path, infinite, move=False)


async def move(dav: Dav, req: Request, path: str) -> Response:
    depth(req, "infinity", ("infinity",))
    return await _transfer(dav, req, path, True, move=True)


def _overwrite(req: Request) -> bool:
    raw = (req.header(b"overwrite") or b"T").strip().upper()
    if raw not in (b"T", b"F"):
        raise InvalidArgument("invalid Overwrite header (expected T or F)")
    return raw == b"T"


async def _transfer(dav: Dav, req: Request, path: str, infinite: bool, move: bool) -> Response:
    target = dav.destination(req.header(b"destination"))
    if target is None:
        raise BadGateway("the Destination is not on this server's WebDAV namespace")
    overwrite = _overwrite(req)
    info = await dav.state.fs.stat(path)
    if target == path or target.startswith(path.rstrip("/") + "/"):
        raise PermissionDenied(f"{req.method}: {path} cannot be copied or moved into itself")
    if move and path == "/":
        raise PermissionDenied("MOVE: the root collection cannot be moved")
    await dav.parent_must_exist(target)
    existing = await dav.stat(target)
    if existing is not None and not overwrite:
        raise PreconditionFailed(f"{req.method}: {target} exists and Overwrite is F")
    protected = dav.covering_parent(target)
    if existing is not None:
        protected += dav.removing(target)
    if move:
        protected += dav.removing(path)
    await dav.guard(req, path, protected)
    fs = dav.state.fs
    if existing is not None:
        await fs.remove(target, recursive=True)
        dav.locks.drop_within(target)
        dav.props.drop(target)
    failures: list[tuple[str, int]] = []
    if move:
        try:
            await fs.rename(path, target)
        except CrossMount:
            failures = await _copy_tree(dav, path, target, info, True)
            if not failures:
                await fs.remove(path, recursive=True)
        if not failures:
            dav.props.copy(path, target)
            dav.props.drop(path)
            dav.locks.drop_within(path)
    else:
        failures = await _copy_tree(dav, path, target, info, infinite)
        dav.props.copy(path, target, infinite)
    if failures:
        body = x.HEAD + "".join(x.status_response(h, s) for h, s in failures) + x.TAIL
        return Response(207, body.encode(), XML_TYPE)
    return Response(204 if existing is not None else 201, b"", b"text/plain")


async def _copy_tree(
    dav: Dav, source: str, target: str, info: FileInfo, infinite: bool
) -> list[tuple[str, int]]:
    """Copy ``source`` to ``target`` (a collection's members too when ``infinite``); the members
    that failed, as (href, status); a failure of ``source`` itself is raised. Files whose read
    has an effect are not copied (403)."""
    fs = dav.state.fs
    failures: list[tuple[str, int]] = []
    pending = [(source, target, info)]
    while pending:
        src, dst, entry = pending.pop()
        try:
            if entry.meta.type == LINK_TYPE:
                await fs.symlink(dst, await fs.readlink(src))
            elif entry.is_dir:
                await fs.mkdir(dst)
                if infinite:
                    children = await fs.readdir(src)
                    pending.extend(
                        (join(src, c.name), join(dst, c.name), c) for c in reversed(children)
                    )
            elif entry.read_effect:
                raise PermissionDenied(
                    f"{src}: reading this file has an effect (it consumes or never ends), so "
                    "it is not copied"
                )
            else:
                await _copy_file(dav, src, dst)
        except FSError as exc:
            if src == source:
                raise  # the request's own resource: its status is the answer
            failures.append((dav.href(src, entry.is_dir), exc.status))
    return failures


async def _copy_file(dav: Dav, source: str, target: str) -> None:
    fs = dav.state.fs
    chunks = await fs.read_stream(source)
    try:
        await fs.write_stream(target, chunks, 0, REPLACE, dav.state.settings.max_body_bytes)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
