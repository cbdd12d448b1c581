"""proxyfs: a remote PFS server mounted as a subtree (federation).

Requests are the SDK's own (``pfs.client._base``: the same endpoints, parameters, answer parsing
and error table as ``AsyncClient``), sent over a lean pooled HTTP/1.1 client
(``pfs.http.client``) because the outbound request's cost bounds every proxied operation. Reads
and writes stream through chunk by chunk; the remote's errors come back with its status and
message; a remote that is down or hangs is a 503/504 naming it within ``timeout``, never a hang.

A mount names any URL, so the plugin must not turn into a tool against other hosts: it sends no
credential but the token its own config names, and every way of failing to reach a remote (refused,
reset, unreachable, unresolvable, TLS, not a PFS server) reads the same, so errors do not tell
open ports from closed ones.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

from pfs.client import _base as sdk
from pfs.fs import (
    REPLACE,
    WRITE_LIMIT,
    Field,
    FileInfo,
    FileSystem,
    FSError,
    InvalidArgument,
    Meta,
    Unavailable,
    WriteFlag,
    read_range,
)
from pfs.fs.base import Buffered
from pfs.fs.errors import Timeout
from pfs.http import client as http1

log = logging.getLogger("pfs.proxyfs")

RELOAD_PATH = "/reload"
RELOAD_TEXT = b"Write to this file to reload the proxy connection\n"
RELOAD_DESCRIPTION = "Write to this file to reload the proxy connection"
#: Reads up to this size are taken whole and answered as one plain response.
BUFFERED_READ = 256 << 10
_FLAG_NAMES = (
    (WriteFlag.APPEND, "append"),
    (WriteFlag.CREATE, "create"),
    (WriteFlag.EXCLUSIVE, "exclusive"),
    (WriteFlag.TRUNCATE, "truncate"),
)


#: What every failure to reach the remote says (the detail goes to the log only).
CANNOT_CONNECT = "cannot connect"


def _base_url_problem(url: str) -> str | None:
    """Why ``url`` is not a plain ``http(s)://host[:port][/path]``, or None."""
    if not url.isascii() or not url.isprintable() or " " in url:
        return "it contains spaces, control or non-ASCII characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if "@" in parts.netloc:
        return "credentials in the URL are not allowed (use the token or token_env keys)"
    if "?" in url or "#" in url:
        return "a query or fragment is not allowed"
    if not parts.hostname:
        return "it has no host"
    try:  # .port raises for a port that is no number in 0-65535
        valid = parts.port != 0 and bool(parts.hostname.encode("idna"))
    except (ValueError, UnicodeError):
        valid = False
    return None if valid else "the host or port is invalid"


def _without_remote_path(error: FSError, remote_path: str | None) -> FSError:
    """A PFS remote names the path it was sent first (``/a: explanation``); the mount table
    here names the client's full path, so the remote's own goes, or it would be said twice."""
    prefix = f"{remote_path}: "
    if not remote_path or not error.message.startswith(prefix):
        return error
    message = error.message[len(prefix) :]
    trimmed = copy.copy(error)
    trimmed.message = message
    trimmed.args = (message,)
    return trimmed


def normalize_base_url(raw: str) -> str:
    """``http://h:p/`` → ``http://h:p/api/v1`` (the original's rule), checked to name a server
    and nothing else: http(s), a host, an optional port and path; no user:password@, query or
    fragment."""
    url = raw.strip().rstrip("/")
    problem = _base_url_problem(url)
    if problem is not None:
        shown = "" if "@" in url else f" {raw!r}"  # never echo a password
        raise InvalidArgument(
            f"invalid base_url format{shown}: {problem} (expected http://host:port[/api/v1])"
        )
    return url if url.endswith("/api/v1") else url + "/api/v1"


def bearer_header(config: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The Authorization header for the token the mount's config names (``token``, or the
    server's environment variable ``token_env``); none when it names none."""
    token, env = config.get("token"), config.get("token_env")
    if token and env:
        raise InvalidArgument("set either token or token_env, not both")
    if env:
        token = os.environ.get(env)
        if not token:
            raise InvalidArgument(f"token_env: environment variable {env} is not set or empty")
    if not token:
        return ()
    if not token.isascii() or not token.isprintable():
        raise InvalidArgument("token: must be printable ASCII (it is sent as a header)")
    return (("Authorization", f"Bearer {token}"),)


def error_kind(response: http1.Response) -> str | None:
    kind = response.headers.get(b"x-pfs-error-kind")
    return None if kind is None else kind.decode("latin-1")


class ProxyFS(FileSystem):
    fstype = "proxyfs"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return True  # the state is the remote server's

    config_schema = (
        Field("base_url", "string", required=True, help="remote server, e.g. http://host:8080"),
        Field(
            "timeout",
            "number",
            default=10,
            min=0.1,
            max=86400,
            help="seconds for a request or a stream's pause",
        ),
        Field("token", "string", help="bearer token sent to the remote (default: none)"),
        Field("token_env", "string", help="server environment variable holding that token"),
        Field(
            "ca_bundle",
            "string",
            help="PEM CA certificates an https remote's certificate is checked with "
            "(default: the system's)",
        ),
    )
    random_write = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.base_url = normalize_base_url(config["base_url"])
        self.timeout = float(config["timeout"])
        self.remote = self.base_url[: -len("/api/v1")]
        self._api_path = urlsplit(self.base_url).path
        # Only the mount's own token: never the server's PFS_TOKEN or any other credential.
        self._headers = bearer_header(config)
        self._json_headers = (*self._headers, ("Content-Type", "application/json"))
        self._pool: http1.Pool | None = None
        self._ssl: ssl.SSLContext | None = None
        if config.get("ca_bundle"):
            try:
                self._ssl = ssl.create_default_context(cafile=config["ca_bundle"])
            except (OSError, ssl.SSLError) as exc:
                raise InvalidArgument(
                    f"proxyfs: ca_bundle {config['ca_bundle']}: {exc.strerror or exc}"
                ) from None

    # -- lifecycle -------------------------------------------------------------------------

    async def _connect(self) -> http1.Pool:
        """A pool to the remote once its health check answers as a PFS server's does."""
        pool = http1.Pool(self.base_url, connect_timeout=self.timeout, ssl_context=self._ssl)
        try:
            health = await self._send(sdk.health(), pool)
            if health.get("status") != "healthy":
                raise FSError(f"health check answered {health!r:.200}")
        except FSError as exc:
            await pool.aclose()
            failed = f"failed to connect to remote PFS server at {self.remote}"
            if isinstance(exc.__cause__, http1.TimedOut):
                raise Timeout(f"{failed}: {exc.__cause__}") from exc
            log.info("%s: %s", failed, exc.__cause__ or exc)
            raise Unavailable(f"{failed}: {CANNOT_CONNECT}") from exc
        return pool

    async def start(self) -> None:
        self._pool = await self._connect()

    async def shutdown(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def reload(self) -> str:
        """Rebuild the connection pool and check the remote again (``echo > /reload``)."""
        try:
            fresh = await self._connect()
        except Unavailable as exc:
            raise type(exc)(f"reload failed: {exc.message}") from exc
        old, self._pool = self._pool, fresh
        if old is not None:
            await old.aclose()
        return "ProxyFS reloaded successfully"

    @property
    def pool(self) -> http1.Pool:
        if self._pool is None:
            raise Unavailable(f"proxyfs: not connected to {self.remote}")
        return self._pool

    # -- talking to the remote -------------------------------------------------------------

    def _target(self, endpoint: str, params: dict[str, str]) -> str:
        target = self._api_path + endpoint
        if not params:
            return target
        return target + "?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in params.items())

    def _wire_error(self, exc: http1.HTTPError) -> FSError:
        """A failure to talk to the remote, naming it (the remote's answers pass as they are)."""
        if isinstance(exc, http1.TimedOut):
            return Timeout(f"remote PFS server {self.remote}: {exc}")
        log.debug("remote PFS server %s: %s", self.remote, exc)
        return Unavailable(f"remote PFS server {self.remote}: {CANNOT_CONNECT}")

    async def _open(
        self,
        method: str,
        endpoint: str,
        params: dict[str, str],
        body: http1.Body = None,
        *,
        json_body: bool = False,
        pool: http1.Pool | None = None,
    ) -> http1.Response:
        """Send a request and return its answer once it is a success; an error answer is raised
        as the typed error of the remote's status, message and error kind."""
        try:
            response = await (pool or self.pool).request(
                method,
                self._target(endpoint, params),
                self._json_headers if json_body else self._headers,
                body,
                timeout=self.timeout,
            )
            if response.status >= 400:
                error = sdk.error_from_response(
                    response.status,
                    await response.read(self.timeout),
                    error_kind(response),
                )
                raise _without_remote_path(error, params.get("path"))
        except http1.HTTPError as exc:
            raise self._wire_error(exc) from exc
        return response

    async def _read_all(self, response: http1.Response) -> bytes:
        try:
            return await response.read(self.timeout)
        except http1.HTTPError as exc:
            raise self._wire_error(exc) from exc

    async def _send(self, call: sdk.Call, pool: http1.Pool | None = None) -> Any:
        body = None if call.json is None else json.dumps(call.json).encode()
        response = await self._open(
            call.method, call.endpoint, call.params, body, json_body=body is not None, pool=pool
        )
        return call.parse(await self._read_all(response))

    # -- the reload control file -----------------------------------------------------------

    def _reload_info(self, mtime_ns: int | None = None) -> FileInfo:
        return FileInfo(
            "reload",
            0,
            0o200,
            mtime_ns or time.time_ns(),
            False,
            Meta("", "control", {"description": RELOAD_DESCRIPTION, "remote-url": self.base_url}),
        )

    # -- metadata --------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        if path == RELOAD_PATH:
            return self._reload_info()
        info: FileInfo = await self._send(sdk.stat(path))
        info.meta.content = {**(info.meta.content or {}), "remote-url": self.base_url}
        return info

    async def readdir(self, path: str) -> list[FileInfo]:
        entries: list[FileInfo] = await self._send(sdk.ls(path))
        if path == "/" and not any(e.name == "reload" for e in entries):
            # The original copies the first entry's time (and panics on an empty root).
            entries.append(self._reload_info(entries[0].mtime_ns if entries else None))
        return entries

    async def create(self, path: str) -> None:
        await self._send(sdk.create(path))

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._send(sdk.mkdir(path, mode or 0o755))

    async def remove(self, path: str, recursive: bool = False) -> None:
        await self._send(sdk.rm(path, recursive))

    async def rename(self, old: str, new: str) -> None:
        await self._send(sdk.mv(old, new))

    async def chmod(self, path: str, mode: int) -> None:
        await self._send(sdk.chmod(path, mode))

    # -- read ------------------------------------------------------------------------------

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path == RELOAD_PATH:
            return read_range(RELOAD_TEXT, offset, size)
        return await self._send(sdk.cat(path, offset, size))

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        """The remote's body relayed chunk by chunk; a small answer becomes a plain response."""
        if path == RELOAD_PATH:
            return Buffered(await self.read(path, offset, size))
        response = await self._open("GET", "/files", sdk.read_params(path, offset, size))
        length = response.headers.get(b"content-length")
        if response.complete or (length is not None and int(length) <= BUFFERED_READ):
            return Buffered(await self._read_all(response))
        return response.chunks(self.timeout, self._wire_error)

    async def open_stream(self, path: str) -> AsyncIterator[bytes]:
        """A live pass-through of the remote's ``stream=true`` answer, which may pause as long
        as its producer does. A stat first makes a missing path fail at open."""
        await self._send(sdk.stat(path))
        response = await self._open("GET", "/files", sdk.stream_params(path))
        return response.chunks(None, self._wire_error)

    # -- write -----------------------------------------------------------------------------

    @staticmethod
    def _write_params(path: str, offset: int, flags: WriteFlag) -> dict[str, str]:
        if offset == 0 and flags == REPLACE:
            return {"path": path}  # a plain PUT: what every server understands
        names = [name for flag, name in _FLAG_NAMES if flags & flag]
        return sdk.write_params(path, offset, names)

    async def _put(self, path: str, body: http1.Body, offset: int, flags: WriteFlag) -> str:
        response = await self._open("PUT", "/files", self._write_params(path, offset, flags), body)
        return sdk.write_message(await self._read_all(response))

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        if path == RELOAD_PATH:
            return await self.reload()
        return await self._put(path, bytes(data), offset, flags)

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """The body goes to the remote as it arrives (chunked); ``limit`` is the remote's call."""
        if path == RELOAD_PATH:
            async for _ in chunks:
                pass
            return await self.reload()
        return await self._put(path, chunks, offset, flags)
