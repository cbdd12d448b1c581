"""The WebDAV front end: one handler for every URL under its prefix, checking the caller's
role per method, and answering errors as plain text with their status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pfs.fs.errors import FSError, NotFound, error_kind
from pfs.http.requests import Request
from pfs.http.responses import Response, StreamResponse, text_response
from pfs.server.auth import Auth, Role
from pfs.server.state import State
from pfs.server.webdav import access, copymove, locking, reading, writing
from pfs.server.webdav.context import Dav

Method = Callable[[Dav, Request, str], Awaitable[Response | StreamResponse]]

_METHODS: dict[str, tuple[Method, Role]] = {
    "OPTIONS": (reading.options, Role.READ),
    "PROPFIND": (reading.propfind, Role.READ),
    "GET": (reading.get, Role.READ),
    "HEAD": (reading.head, Role.READ),
    "PUT": (writing.put, Role.WRITE),
    "MKCOL": (writing.mkcol, Role.WRITE),
    "DELETE": (writing.delete, Role.WRITE),
    "PROPPATCH": (writing.proppatch, Role.WRITE),
    "COPY": (copymove.copy, Role.WRITE),
    "MOVE": (copymove.move, Role.WRITE),
    "LOCK": (locking.lock, Role.WRITE),
    "UNLOCK": (locking.unlock, Role.WRITE),
}


class WebDAV:
    """Answers every request under ``prefix`` (the app hands them over whole)."""

    def __init__(self, state: State, auth: Auth, prefix: str) -> None:
        self.dav = Dav(state, prefix.rstrip("/"))
        self.auth = auth
        self.prefix = self.dav.prefix

    def serves(self, path: str) -> bool:
        return path.startswith(self.prefix) and (
            len(path) == len(self.prefix) or path[len(self.prefix)] == "/"
        )

    async def __call__(self, req: Request) -> Response | StreamResponse:
        found = _METHODS.get(req.method)
        if found is None:
            return text_response(
                405, f"method {req.method} not allowed", [(b"allow", reading.METHODS.encode())]
            )
        method, role = found
        denied = self._check(req, role)
        if denied is not None:
            return denied
        try:
            path = self.dav.path_of(req.path)
            if path is None:
                raise NotFound(f"not found: {req.path}")
            return await method(self.dav, req, path)
        except FSError as exc:
            headers = [(b"x-pfs-error-kind", error_kind(exc).encode())]
            if req.body_pending():  # the body was not read: the connection cannot be reused
                headers.append((b"connection", b"close"))
            return text_response(exc.status, exc.message, headers)

    def _check(self, req: Request, role: Role) -> Response | None:
        return access.check(self.auth, req.header(b"authorization"), role)
