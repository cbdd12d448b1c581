"""LOCK and UNLOCK (RFC 4918 §9.10-9.11) over the in-memory lock manager."""

from __future__ import annotations

from pfs.fs.errors import PreconditionFailed
from pfs.http.requests import Request
from pfs.http.responses import Response
from pfs.server.webdav import xmlbodies as x
from pfs.server.webdav.context import Dav, depth, xml_body
from pfs.server.webdav.errors import Conflict, Locked
from pfs.server.webdav.locks import Lock, parse_timeout
from pfs.server.webdav.properties import active_lock
from pfs.server.webdav.reading import XML_TYPE


def _answer(dav: Dav, lock: Lock, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>'
        f"{active_lock(lock, dav.href(lock.root, False))}</D:lockdiscovery></D:prop>\n"
    )
    headers = [(b"lock-token", f"<{lock.token}>".encode())]
    return Response(status, body.encode(), XML_TYPE, headers)


async def lock(dav: Dav, req: Request, path: str) -> Response:
    timeout = parse_timeout((req.header(b"timeout") or b"").decode("latin-1"))
    root = await xml_body(req, x.parse)
    if root is None:
        return await _refresh(dav, req, path, timeout)
    asked = x.parse_lockinfo(root)
    infinite = depth(req, "infinity", ("0", "infinity")) == "infinity"
    await dav.guard(req, path)
    clashes = dav.locks.conflicts(path, asked.exclusive, infinite)
    if clashes:
        raise Locked(f"LOCK: {path} is locked already ({len(clashes)} conflicting lock(s))")
    existing = await dav.stat(path)
    if existing is None:
        # A lock on an unmapped URL creates an empty resource (RFC 4918 §7.3).
        await dav.parent_must_exist(path)
        await dav.guard(req, path, dav.covering_parent(path))
        await dav.state.fs.write(path, b"")
    new = dav.locks.add(path, asked.exclusive, infinite, asked.owner, timeout)
    return _answer(dav, new, 200 if existing is not None else 201)


async def _refresh(dav: Dav, req: Request, path: str, timeout: int) -> Response:
    """A LOCK without a body refreshes the lock whose token the ``If`` header submits."""
    if req.header(b"if") is None:
        raise PreconditionFailed("LOCK refresh: submit the lock token in an If header")
    tokens = await dav.guard(req, path)
    for held in dav.locks.covering(path):
        if held.token in tokens:
            dav.locks.refresh(held, timeout)
            return _answer(dav, held, 200)
    raise PreconditionFailed(f"LOCK refresh: no submitted token is a lock of {path}")


async def unlock(dav: Dav, req: Request, path: str) -> Response:
    raw = (req.header(b"lock-token") or b"").decode("latin-1").strip()
    token = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    held = dav.locks.get(token) if token else None
    if held is None or not held.covers(path):
        raise Conflict(f"UNLOCK: the Lock-Token is not a lock of {path}")
    dav.locks.remove(held.token)
    return Response(204, b"", b"text/plain")
