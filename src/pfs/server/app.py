"""The ASGI application: routes /api/v1 endpoints to handlers over the mount table."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from pfs.fs.base import Buffered
from pfs.fs.errors import FSError, InvalidArgument, error_kind
from pfs.fs.mounts import MountTable
from pfs.plugins.registry import Registry, builtin_registry
from pfs.server import admin, docs, files, search, touch
from pfs.server.auth import Auth, Role
from pfs.server.http import (
    OCTET_TYPE,
    ClientGone,
    Prefixed,
    Request,
    Response,
    StreamResponse,
    error_response,
    json_response,
)
from pfs.server.settings import Settings

log = logging.getLogger("pfs.server")

Handler = Callable[["Server", Request], Awaitable[Response | StreamResponse]]

_NOT_FOUND = Response(404, b"404 page not found\n", b"text/plain; charset=utf-8",
                      [(b"x-content-type-options", b"nosniff")])
_READS = frozenset({"GET"})

#: path → (handler, allowed methods, role needed for each method; None = any method, no auth)
ROUTES: dict[str, tuple[Handler, dict[str, Role] | None]] = {
    "/api/v1/health": (admin.health, None),
    "/api/v1/files": (files.files, {
        "GET": Role.READ, "PUT": Role.WRITE, "POST": Role.WRITE, "DELETE": Role.WRITE}),
    "/api/v1/directories": (files.directories, {
        "GET": Role.READ, "POST": Role.WRITE, "DELETE": Role.WRITE}),
    "/api/v1/stat": (files.stat, {"GET": Role.READ}),
    "/api/v1/rename": (files.rename, {"POST": Role.WRITE}),
    "/api/v1/chmod": (files.chmod, {"POST": Role.WRITE}),
    "/api/v1/touch": (touch.touch, {"POST": Role.WRITE}),
    "/api/v1/grep": (search.grep, {"POST": Role.READ}),
    "/api/v1/digest": (search.digest, {"POST": Role.READ}),
    "/api/v1/mounts": (admin.mounts, {"GET": Role.READ}),
    "/api/v1/mount": (admin.mount, {"POST": Role.ADMIN}),
    "/api/v1/unmount": (admin.unmount, {"POST": Role.ADMIN}),
    "/api/v1/plugins": (admin.plugins, {"GET": Role.READ}),
    "/api/v1/plugins/load": (admin.load_plugin, {"POST": Role.ADMIN}),
    "/api/v1/plugins/unload": (admin.unload_plugin, {"POST": Role.ADMIN}),
    "/api/v1/openapi.json": (docs.openapi, {"GET": Role.READ}),
    "/docs": (docs.page, {"GET": Role.READ}),
}


class Server:
    """The ASGI app. State lives here: settings, the mount table and the plugin registry."""

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or builtin_registry()
        self.fs = MountTable()
        self.auth = Auth(settings.auth_tokens, settings.admin_without_auth)
        self.external: Any = None  # the external-plugin loader, when configured
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Mount every configured plugin; any failure aborts start-up (never half-configured)."""
        from pfs.server.startup import mount_configured

        await mount_configured(self)
        self._end_streams_on_stop_signals()
        _log_slow_callbacks()
        self.started = True

    def _end_streams_on_stop_signals(self) -> None:
        """On SIGINT/SIGTERM end live streams (e.g. streamfs readers), which would otherwise keep
        their responses open forever and hold the server's graceful stop.

        The handler is chained in front of whatever the ASGI server installed, which still runs.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()

        def end_streams() -> None:
            loop.create_task(self.fs.end_streams())

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)

            def handler(num: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(end_streams)
                if callable(previous):
                    previous(num, frame)

            signal.signal(signum, handler)

    async def shutdown(self) -> None:
        await self.fs.shutdown()
        if self.external is not None:
            await self.external.shutdown()

    # -- helpers for handlers --------------------------------------------------------------

    async def json_body(self, req: Request, message: str) -> dict[str, Any]:
        """The request's JSON object; ``message`` (+ detail) as a 400 when it is not one."""
        try:
            body = await req.json(self.settings.max_json_bytes)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"{message}: {exc.msg}") from None
        if not isinstance(body, dict):
            raise InvalidArgument(f"{message}: expected a JSON object")
        return body

    async def read_response(self, path: str, offset: int, size: int) -> Response | StreamResponse:
        """A read as one response when it fits in one chunk, else streamed as it is read."""
        chunks = await self.fs.read_stream(path, offset, size)
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

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("start-up failed: %s", exc)
                    await self.shutdown()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        req = Request(scope, receive, self.settings.body_timeout)
        route = ROUTES.get(req.path)
        if route is None:
            await _NOT_FOUND(send, receive)
            return
        handler, methods = route
        try:
            if methods is not None:
                role = methods.get(req.method)
                if role is None:
                    response = error_response(405, "method not allowed")
                    await response(send, receive)
                    return
                if self.auth.enabled:
                    denied = self.auth.check(req.header(b"authorization"), role)
                elif role is Role.ADMIN:
                    denied = await self.auth.check_admin_peer(scope)
                else:
                    denied = None
                if denied is not None:
                    await denied(send, receive)
                    return
            response = await handler(self, req)
        except FSError as exc:
            # The kind header lets clients tell e.g. NotEmpty from AlreadyExists (both 409).
            headers = [(b"x-pfs-error-kind", error_kind(exc).encode())]
            if req.body_pending():  # a refused, late or broken body: do not reuse the connection
                headers.append((b"connection", b"close"))
            response = error_response(exc.status, exc.message, headers)
        except ClientGone:
            return
        except Exception as exc:
            log.exception("%s %s failed", req.method, req.path)
            response = error_response(500, f"internal error: {exc}" if str(exc) else
                                      f"internal error: {type(exc).__name__}")
        await response(send, receive)


def _log_slow_callbacks() -> None:
    """PFS_SLOW_CALLBACK_MS=N (a debugging aid): asyncio's debug mode logs every callback that
    holds the event loop longer than N ms ("Executing <Task ...> took 0.123 seconds")."""
    threshold_ms = os.environ.get("PFS_SLOW_CALLBACK_MS")
    if threshold_ms:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(threshold_ms) / 1000


__all__ = ["ROUTES", "Server", "json_response"]
