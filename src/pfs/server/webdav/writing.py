"""PUT, MKCOL, DELETE and PROPPATCH."""

from __future__ import annotations

from pfs.fs.base import REPLACE
from pfs.fs.errors import InvalidArgument, PermissionDenied
from pfs.http.conditional import Preconditions
from pfs.http.requests import Request
from pfs.http.responses import Response
from pfs.server.webdav import xmlbodies as x
from pfs.server.webdav.context import MAX_XML_BYTES, Dav, xml_body
from pfs.server.webdav.errors import MethodNotAllowed, UnsupportedMediaType
from pfs.server.webdav.properties import LIVE
from pfs.server.webdav.reading import XML_TYPE


async def put(dav: Dav, req: Request, path: str) -> Response:
    """Create or replace a file with the body, streamed to the plugin as it arrives (plugins
    stage a replacement and switch to it at the end, so a broken upload changes nothing)."""
    if req.header(b"content-range") is not None:
        # A partial PUT taken as a whole one would replace the file with the piece (RFC 9110
        # §14.5): refused, the file is left as it is.
        raise InvalidArgument(f"PUT: {path}: Content-Range is not supported (send the whole file)")
    existing = await dav.stat(path)
    if existing is not None and existing.is_dir:
        raise MethodNotAllowed(f"PUT: {path} is a collection")
    if existing is None:
        await dav.parent_must_exist(path)
    protected = dav.locks.covering(path) if existing else dav.covering_parent(path)
    await dav.guard(req, path, protected)
    fs = dav.state.fs
    settings = dav.state.settings
    length = req.content_length()
    conditions = Preconditions.of(req.scope.get("headers", ()))
    if conditions is not None and conditions.guards_change:
        # If-Match and kin: a compare-and-swap in the plugin, as PUT /files does (501 where the
        # plugin cannot compare and write in one step).
        body = fs.traffic.receiving(req.stream())
        await fs.write_if(path, body, conditions, 0, REPLACE, settings.max_body_bytes)
    elif length is not None and length <= settings.inline_read_bytes:
        data = await req.body(settings.max_body_bytes)
        fs.traffic.received += len(data)
        await fs.write(path, data, 0, REPLACE)
    else:
        body = fs.traffic.receiving(req.stream())
        await fs.write_stream(path, body, 0, REPLACE, settings.max_body_bytes)
    return Response(204 if existing is not None else 201, b"", b"text/plain")


async def mkcol(dav: Dav, req: Request, path: str) -> Response:
    if req.body_pending() and await req.body(MAX_XML_BYTES):
        raise UnsupportedMediaType(f"MKCOL: {path}: a request body is not supported")
    if await dav.stat(path) is not None:
        raise MethodNotAllowed(f"MKCOL: {path} exists already")
    await dav.parent_must_exist(path)
    await dav.guard(req, path, dav.covering_parent(path))
    await dav.state.fs.mkdir(path)
    return Response(201, b"", b"text/plain")


async def delete(dav: Dav, req: Request, path: str) -> Response:
    await dav.state.fs.stat(path)  # 404 first
    if path == "/":
        raise PermissionDenied("DELETE: the root collection cannot be deleted")
    await dav.guard(req, path, dav.removing(path))
    conditions = Preconditions.of(req.scope.get("headers", ()))
    if conditions is not None and conditions.guards_change:
        await dav.state.fs.remove_if(path, conditions, recursive=True)
    else:
        await dav.state.fs.remove(path, recursive=True)
    dav.locks.drop_within(path)
    dav.props.drop(path)
    return Response(204, b"", b"text/plain")


async def proppatch(dav: Dav, req: Request, path: str) -> Response:
    """Set and remove dead properties, all or nothing; live (DAV:) properties are protected."""
    info = await dav.state.fs.stat(path)
    await dav.guard(req, path, dav.locks.covering(path))
    changes = await xml_body(req, x.parse_proppatch)
    protected = [c.name for c in changes if c.name in LIVE]
    if protected:
        # One protected property fails the whole update (RFC 4918 §9.2): the others get 424.
        others = [c.name for c in changes if c.name not in LIVE]
        propstats = [(403, [x.empty_element(n) for n in protected])]
        if others:
            propstats.append((424, [x.empty_element(n) for n in others]))
    else:
        dav.props.apply(path, [(c.name, c.value) for c in changes])
        propstats = [(200, [x.empty_element(c.name) for c in changes])]
    body = x.HEAD + x.response(dav.href(path, info.is_dir), propstats) + x.TAIL
    return Response(207, body.encode(), XML_TYPE)
