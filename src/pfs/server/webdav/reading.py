"""OPTIONS, PROPFIND, GET and HEAD: what a reader may do. None of them reads a file whose read
has an effect (a queue's ``dequeue``, a live stream): PROPFIND looks at stat answers only, and
GET refuses such a file by name."""

from __future__ import annotations

from xml.sax.saxutils import escape

from pfs.fs.base import Buffered
from pfs.fs.errors import PermissionDenied, PreconditionFailed
from pfs.fs.fileinfo import FileInfo, ReadEffect
from pfs.fs.paths import join
from pfs.fs.turns import map_in_turns
from pfs.http.conditional import NOT_MODIFIED, Preconditions, validators
from pfs.http.ranges import range_response
from pfs.http.requests import Request
from pfs.http.responses import Prefixed, Response, StreamResponse, text_response
from pfs.server.webdav import xmlbodies as x
from pfs.server.webdav.context import Dav, depth, xml_body
from pfs.server.webdav.properties import LIVE, content_type, live_value

METHODS = "OPTIONS, PROPFIND, PROPPATCH, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, LOCK, UNLOCK"
XML_TYPE = b'application/xml; charset="utf-8"'

_EFFECT_WORDS = {
    ReadEffect.CONSUMES: "consumes what it reads (a queue's dequeue)",
    ReadEffect.ENDLESS: "never ends (a live stream)",
}


async def options(dav: Dav, req: Request, path: str) -> Response:
    return Response(
        200,
        b"",
        b"text/plain",
        [(b"dav", b"1, 2"), (b"allow", METHODS.encode()), (b"ms-author-via", b"DAV")],
    )


async def propfind(dav: Dav, req: Request, path: str) -> Response:
    # Depth infinity is refused (RFC 4918 §9.1 allows it): a walk of the whole namespace in one
    # answer would be unbounded.
    if depth(req, "infinity", ("0", "1", "infinity")) == "infinity":
        raise PermissionDenied("PROPFIND with Depth: infinity is not supported (use Depth 0 or 1)")
    walk = req.header(b"depth") == b"1"
    asked = await xml_body(req, x.parse_propfind)
    info = await dav.state.fs.stat(path)
    entries = [(path, info)]
    if walk and info.is_dir:
        children = await dav.state.fs.readdir(path)
        entries.extend((join(path, child.name), child) for child in children)
    parts = await map_in_turns(lambda entry: _response(dav, asked, *entry), entries)
    body = x.HEAD + "".join(parts) + x.TAIL
    return Response(207, body.encode(), XML_TYPE)


def _response(dav: Dav, asked: x.PropfindRequest, path: str, info: FileInfo) -> str:
    href = dav.href(path, info.is_dir)
    dead = dav.props.of(path)
    if asked.kind == "propname":
        names = [*LIVE, *dead]
        return x.response(href, [(200, [x.empty_element(n) for n in names])])
    names = list(LIVE) + list(dead) if asked.kind == "allprop" else list(asked.names)
    found: list[str] = []
    missing: list[str] = []
    locks = None
    for name in names:
        value: str | None
        if name in dead:
            value = dead[name]
        elif name[0] == x.DAV:
            if name[1] == "lockdiscovery" and locks is None:
                locks = dav.locks.covering(path)
            value = live_value(name, info, locks or [], dav.href(path, info.is_dir))
        else:
            value = None
        if value is not None:
            found.append(value)
        elif asked.kind == "prop":
            missing.append(x.empty_element(name))
    propstats = [(200, found)] if found else []
    if missing:
        propstats.append((404, missing))
    return x.response(href, propstats or [(200, [])])


async def get(dav: Dav, req: Request, path: str) -> Response | StreamResponse:
    answer = await _get(dav, req, path)
    traffic = dav.state.fs.traffic
    if isinstance(answer, StreamResponse):
        answer.chunks = traffic.sending(answer.chunks)
    elif answer.status < 300:
        traffic.sent += len(answer.body)
    return answer


async def _readable(dav: Dav, path: str) -> FileInfo:
    info = await dav.state.fs.stat(path)
    if info.read_effect:
        raise PermissionDenied(
            f"{path}: reading this file {_EFFECT_WORDS[info.read_effect]}, so WebDAV does not "
            "read it (use GET /api/v1/files)"
        )
    return info


def _headers(info: FileInfo) -> list[tuple[bytes, bytes]]:
    return [*validators(info), (b"accept-ranges", b"bytes")]


def _refused(req: Request, path: str, info: FileInfo) -> Response | None:
    """The 304 or 412 a read's ``If-None-Match``/``If-Modified-Since`` (and kin) ask for."""
    conditions = Preconditions.of(req.scope.get("headers", ()))
    status = None if conditions is None else conditions.evaluate(info, reading=True)
    if status is None:
        return None
    if status == NOT_MODIFIED:
        return Response(304, b"", b"text/plain", [(b"content-length", b"0"), *validators(info)])
    raise PreconditionFailed(f"precondition failed: {path}: {conditions}")


async def _get(dav: Dav, req: Request, path: str) -> Response | StreamResponse:
    info = await _readable(dav, path)
    if info.is_dir:
        return await _index(dav, path)
    kind = content_type(info.name).encode()
    headers = _headers(info)
    fs = dav.state.fs
    refused = _refused(req, path, info)
    if refused is not None:
        return refused
    range_header = req.header(b"range")
    if range_header is not None:
        ranged = await range_response(
            fs,
            path,
            info,
            range_header.decode("latin-1"),
            content_type=kind,
            headers=headers[:2],
            error=text_response,
        )
        if ranged is not None:
            return ranged
    if info.size <= dav.state.settings.inline_read_bytes:
        # One read for small files: a stream's machinery costs more than the bytes.
        return Response(200, await fs.read(path), kind, headers)
    chunks = await fs.read_stream(path)
    if isinstance(chunks, Buffered):
        return Response(200, chunks.data, kind, headers)
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        return Response(200, b"", kind, headers)
    return StreamResponse(Prefixed([first], chunks), kind, 200, headers)


async def head(dav: Dav, req: Request, path: str) -> Response:
    info = await _readable(dav, path)
    if info.is_dir:
        return Response(200, b"", b"text/html; charset=utf-8")
    refused = _refused(req, path, info)
    if refused is not None:
        return refused
    return Response(
        200,
        b"",
        content_type(info.name).encode(),
        [(b"content-length", b"%d" % info.size), *_headers(info)],
    )


async def _index(dav: Dav, path: str) -> Response:
    """A collection's GET: a plain HTML list of its members, for browsers."""
    entries = await dav.state.fs.readdir(path)
    rows = await map_in_turns(
        lambda e: (
            f'<li><a href="{dav.href(join(path, e.name), e.is_dir)}">'
            f"{escape(e.name)}{'/' if e.is_dir else ''}</a></li>"
        ),
        entries,
    )
    body = f"<!DOCTYPE html><title>{escape(path)}</title><ul>{''.join(rows)}</ul>\n"
    return Response(200, body.encode(), b"text/html; charset=utf-8")
