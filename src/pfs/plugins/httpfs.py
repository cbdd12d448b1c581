"""httpfs: serve a PFS path over plain HTTP (browser listings, downloads, ranges).

Each mount runs its own small HTTP/1.1 server on ``host:port``. The port is bound inside ``start``
so a busy port fails the mount; unmount closes the listener and every open connection. Files are
read through the namespace at request time (the mount context's ``namespace``, which the mount
table hands every plugin), so whatever is mounted under ``pfs_path`` is served.

Inside PFS the mount point is one read-only status file.

Without ``token``/``token_env`` or ``basic_user``+``basic_password`` anyone who can reach
``host:port`` reads every file served. Files whose read has an effect (a queue's ``dequeue``, a live
stream) are never read: GET/HEAD of one answers 403 and listings show it without a link.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hmac
import html
import logging
import mimetypes
import os
import posixpath
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pfs.fs import (
    REPLACE,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    InvalidArgument,
    Meta,
    ReadEffect,
    ReadOnly,
    WriteFlag,
    read_range,
)
from pfs.fs.base import truncate_as_no_op
from pfs.fs.gotime import format_duration
from pfs.fs.paths import join, normalize
from pfs.httprange import parse_range
from pfs.listen import is_loopback, listen_exclusive

log = logging.getLogger("pfs.plugins.httpfs")

READ_ONLY_MESSAGE = "httpfs is read-only via filesystem interface, use HTTP to access files"
#: Files up to this size are read in one call (exact Content-Length even for virtual files whose
#: stat size is 0); larger ones are streamed.
WHOLE_READ_LIMIT = 1 << 20
#: A README up to this size is shown under a directory listing.
README_INLINE_LIMIT = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
IDLE_TIMEOUT = 60.0
SHUTDOWN_GRACE = 5.0

_TEXT_TYPES = {
    ".txt": "text/plain", ".log": "text/plain", ".md": "text/markdown",
    ".markdown": "text/markdown", ".json": "application/json", ".xml": "application/xml",
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "application/javascript", ".yaml": "text/yaml", ".yml": "text/yaml",
    ".csv": "text/csv", ".sh": "text/x-shellscript", ".py": "text/x-python", ".go": "text/x-go",
    ".c": "text/x-c", ".h": "text/x-c", ".cpp": "text/x-c++", ".java": "text/x-java",
    ".rs": "text/x-rust", ".sql": "text/x-sql",
}  # fmt: skip
_BINARY_TYPES = {
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml", ".ico": "image/x-icon",
    ".bmp": "image/bmp", ".mp4": "video/mp4", ".webm": "video/webm", ".ogg": "video/ogg",
    ".avi": "video/x-msvideo", ".mov": "video/quicktime", ".mp3": "audio/mpeg",
    ".wav": "audio/wav", ".m4a": "audio/mp4", ".flac": "audio/flac",
}  # fmt: skip


def content_type(name: str) -> str:
    """The Content-Type for a file name, per the original's table."""
    if name == "README" or name.startswith("README."):
        return "text/plain; charset=utf-8"
    ext = posixpath.splitext(name)[1].lower()
    if ext in _TEXT_TYPES:
        return _TEXT_TYPES[ext] + "; charset=utf-8"
    if ext in _BINARY_TYPES:
        return _BINARY_TYPES[ext]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _clock(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client must send in ``Authorization``: either accepted form; none set: nothing."""

    token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None

    def __bool__(self) -> bool:
        return self.token is not None or self.basic_user is not None

    def allow(self, header: str | None) -> bool:
        if not self:
            return True
        scheme, _, value = (header or "").partition(" ")
        sent = value.strip().encode("latin-1")  # the header's bytes as received
        scheme = scheme.lower()
        if scheme == "bearer" and self.token is not None:
            return hmac.compare_digest(sent, self.token.encode())
        if scheme == "basic" and self.basic_user is not None:
            pair = f"{self.basic_user}:{self.basic_password}".encode()
            return hmac.compare_digest(sent, base64.b64encode(pair))
        return False

    def challenges(self) -> list[tuple[str, str]]:
        """``WWW-Authenticate`` headers of a 401, one per accepted scheme."""
        offered = []
        if self.token is not None:
            offered.append(("WWW-Authenticate", 'Bearer realm="httpfs"'))
        if self.basic_user is not None:
            offered.append(("WWW-Authenticate", 'Basic realm="httpfs", charset="UTF-8"'))
        return offered

    def describe(self) -> str:
        kinds = []
        if self.token is not None:
            kinds.append("bearer token")
        if self.basic_user is not None:
            kinds.append(f"basic (user {self.basic_user})")
        return " or ".join(kinds) or "none (anyone who can reach it reads the files)"


def _secret(config: dict[str, Any], key: str, env_key: str) -> str | None:
    """``config[key]``, or the environment variable named by ``config[env_key]``.

    An empty ``key`` arrives as None (unset) from config validation; an empty or missing variable
    is refused, so a typo in ``env_key`` never silently turns auth off.
    """
    value, env = config.get(key), config.get(env_key)
    if value is not None and env is not None:
        raise InvalidArgument(f"httpfs: give {key} or {env_key}, not both")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise InvalidArgument(f"httpfs: {env_key}: environment variable {env} is empty")
    return value


def _credentials(config: dict[str, Any]) -> Credentials:
    token = _secret(config, "token", "token_env")
    user = config.get("basic_user")
    password = _secret(config, "basic_password", "basic_password_env")
    if (user is None) != (password is None):
        raise InvalidArgument("httpfs: basic_user and basic_password go together")
    if user is not None and (not user or ":" in user):
        raise InvalidArgument("httpfs: basic_user must be non-empty and without ':'")
    return Credentials(token, user, password)


class HTTPFS(FileSystem):
    fstype = "httpfs"
    config_schema = (
        Field("pfs_path", "string", required=True, help="PFS path to serve"),
        Field("host", "string", default="127.0.0.1", help="address to listen on (0.0.0.0: all)"),
        Field("port", "port", default=None, help="port to listen on (default 8000)"),
        Field("http_port", "port", default=None, help="alias of port"),
        Field("token", "string", default=None, help="bearer token clients must send"),
        Field("token_env", "string", default=None, help="environment variable holding token"),
        Field("basic_user", "string", default=None, help="HTTP basic auth user (with password)"),
        Field("basic_password", "string", default=None, help="HTTP basic auth password"),
        Field(
            "basic_password_env",
            "string",
            default=None,
            help="environment variable holding basic_password",
        ),
    )
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.pfs_path = normalize(config["pfs_path"])
        self.host: str = config["host"]
        port, alias = config.get("port"), config.get("http_port")
        if port is not None and alias is not None and port != alias:
            raise InvalidArgument(f"httpfs: port ({port}) and http_port ({alias}) disagree")
        self.port: int = (
            8000 if port is None and alias is None else int(port if port is not None else alias)
        )
        self.mount_path: str = config["mount_path"]
        self.credentials = _credentials(config)
        self.started_ns = time.time_ns()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.context is None:
            raise InvalidArgument("httpfs: no root filesystem was handed to the plugin")
        try:
            # Like pfs-server: no SO_REUSEPORT, so a port anyone listens on fails the mount.
            sock = listen_exclusive(self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AlreadyExists(
                    f"httpfs: cannot listen on {self.host}:{self.port}: address already in use"
                ) from exc
            raise InvalidArgument(
                f"httpfs: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self._server = await asyncio.start_server(self._serve_connection, sock=sock)
        self.port = sock.getsockname()[1]
        self.started_ns = time.time_ns()
        log.info("httpfs serving %s on http://%s:%d", self.pfs_path, self.host, self.port)
        if not self.credentials and not is_loopback(self.host):
            log.warning(
                "!!! httpfs on %s:%d has no auth: anyone who can reach it reads %s. "
                "Set token, token_env or basic_user/basic_password. !!!",
                self.host,
                self.port,
                self.pfs_path,
            )

    async def shutdown(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        try:
            await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("httpfs on port %d: connections still open after close", self.port)
        self._server = None

    # -- the status file -------------------------------------------------------------------

    def status_text(self) -> str:
        endpoint = f"http://{self.host}:{self.port}"
        uptime = format_duration(round((time.time_ns() - self.started_ns) / 1e9) * 1_000_000_000)
        lines = [
            "HTTPFS Instance Status",
            "=" * 22,
            "",
            f"{'Virtual Path:':<17}{self.mount_path}",
            f"{'PFS Source Path:':<17}{self.pfs_path}",
            f"{'HTTP Host:':<17}{self.host}",
            f"{'HTTP Port:':<17}{self.port}",
            f"{'HTTP Endpoint:':<17}{endpoint}",
            f"{'HTTP Auth:':<17}{self.credentials.describe()}",
            "",
            f"{'Server Status:':<17}{'Running' if self._server is not None else 'Stopped'}",
            f"{'Start Time:':<17}{_clock(self.started_ns)}",
            f"{'Uptime:':<17}{uptime}",
            "",
            "Access this HTTP server:",
            f"  Browser:       {endpoint}/",
            f"  CLI:           curl {endpoint}/",
            "",
            f"Serving content from PFS path: {self.pfs_path}",
            f"All files under {self.pfs_path} are accessible via HTTP on {self.host}:{self.port}",
        ]
        return "\n".join(lines) + "\n"

    async def stat(self, path: str) -> FileInfo:
        if path != "/":
            raise ReadOnly(READ_ONLY_MESSAGE)
        size = len(self.status_text().encode())
        return FileInfo(
            "status", size, 0o444, self.started_ns, False, Meta("httpfs-status", "virtual")
        )

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path != "/":
            raise ReadOnly(READ_ONLY_MESSAGE)
        # The original treats size 0 as "everything" for this file.
        return read_range(self.status_text().encode(), offset, size if size > 0 else -1)

    async def readdir(self, path: str) -> list[FileInfo]:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def create(self, path: str) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def remove(self, path: str, recursive: bool = False) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def rename(self, old: str, new: str) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def chmod(self, path: str, mode: int) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    #: Accepted on the status file, as AGFS does; every other path is refused by ``stat``.
    truncate = truncate_as_no_op

    # -- the HTTP side ---------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                if len(head) > MAX_HEADER_BYTES:
                    return
                request = _parse_head(head)
                if request is None:
                    await _send(writer, 400, b"bad request\n", "text/plain; charset=utf-8", False)
                    return
                method, target, headers = request
                await _discard_body(reader, headers)
                keep_alive = headers.get("connection", "").lower() != "close"
                await self._answer(writer, method, target, headers, keep_alive)
                if not keep_alive:
                    return
        except ConnectionError:
            return
        except Exception:
            log.exception("httpfs: request failed")
        finally:
            self._connections.discard(writer)
            writer.close()

    def _source_path(self, target: str) -> tuple[str, str]:
        """(URL path as shown, PFS path it maps to) for a request target."""
        url_path = normalize(unquote(urlsplit(target).path, errors="replace"))
        return url_path, (self.pfs_path if url_path == "/" else join(self.pfs_path, url_path[1:]))

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        keep_alive: bool,
    ) -> None:
        assert self.context is not None
        root = self.context.namespace
        head_only = method == "HEAD"
        if not self.credentials.allow(headers.get("authorization")):
            await _send(
                writer,
                401,
                b"401 unauthorized\n",
                "text/plain; charset=utf-8",
                keep_alive,
                head_only,
                self.credentials.challenges(),
            )
            return
        try:
            url_path, source = self._source_path(target)
            info = await root.stat(source)
        except Exception:
            await _send(
                writer,
                404,
                b"404 page not found\n",
                "text/plain; charset=utf-8",
                keep_alive,
                head_only,
            )
            return
        if info.is_dir:
            try:
                page = await self._listing(url_path, source)
            except Exception:
                log.debug("httpfs: readdir %s failed", source, exc_info=True)
                await _send(
                    writer,
                    500,
                    b"Failed to read directory\n",
                    "text/plain; charset=utf-8",
                    keep_alive,
                    head_only,
                )
                return
            await _send(writer, 200, page, "text/html; charset=utf-8", keep_alive, head_only)
            return
        if info.read_effect:
            await _send(
                writer,
                403,
                _not_served(url_path, info.read_effect).encode(),
                "text/plain; charset=utf-8",
                keep_alive,
                head_only,
            )
            return
        await self._send_file(writer, source, info, headers.get("range"), keep_alive, head_only)

    async def _send_file(
        self,
        writer: asyncio.StreamWriter,
        source: str,
        info: FileInfo,
        range_header: str | None,
        keep_alive: bool,
        head_only: bool,
    ) -> None:
        assert self.context is not None
        root = self.context.namespace
        ctype = content_type(posixpath.basename(source))
        extra = [
            ("Last-Modified", formatdate(info.mtime_ns / 1e9, usegmt=True)),
            ("Accept-Ranges", "bytes"),
        ]
        span: tuple[int, int] | None = None
        if range_header is not None:
            try:
                span = parse_range(range_header, info.size)
            except ValueError:
                span = (0, info.size - 1) if info.size else None  # not a byte range: ignore it
                range_header = None
            if span is None and range_header is not None:
                await _send(
                    writer,
                    416,
                    b"range not satisfiable\n",
                    "text/plain; charset=utf-8",
                    keep_alive,
                    head_only,
                    [("Content-Range", f"bytes */{info.size}")],
                )
                return
        try:
            if range_header is not None and span is not None:
                start, end = span
                extra.append(("Content-Range", f"bytes {start}-{end}/{info.size}"))
                chunks = await root.read_stream(source, start, end - start + 1)
                await _send_stream(
                    writer, 206, chunks, end - start + 1, ctype, keep_alive, head_only, extra
                )
            elif info.size <= WHOLE_READ_LIMIT:
                body = await root.read(source)
                await _send(writer, 200, body, ctype, keep_alive, head_only, extra)
            else:
                chunks = await root.read_stream(source)
                await _send_stream(
                    writer, 200, chunks, info.size, ctype, keep_alive, head_only, extra
                )
        except ConnectionError:
            raise
        except Exception as exc:
            log.debug("httpfs: read %s failed", source, exc_info=True)
            await _send(
                writer,
                500,
                f"Failed to read file: {exc}\n".encode(),
                "text/plain; charset=utf-8",
                keep_alive,
                head_only,
            )

    async def _listing(self, url_path: str, source: str) -> bytes:
        assert self.context is not None
        root = self.context.namespace
        entries = sorted(await root.readdir(source), key=lambda e: (not e.is_dir, e.name))
        title = html.escape(f"Directory listing for {url_path}")
        base = url_path if url_path.endswith("/") else url_path + "/"
        rows = []
        if url_path != "/":
            parent = posixpath.dirname(url_path.rstrip("/")) or "/"
            parent = parent if parent.endswith("/") else parent + "/"
            rows.append(
                f'<tr><td><a href="{html.escape(quote(parent))}">../</a></td>'
                "<td>-</td><td></td></tr>"
            )
        readme: FileInfo | None = None
        for entry in entries:
            shown = entry.name + ("/" if entry.is_dir else "")
            size = "-" if entry.is_dir else str(entry.size)
            if entry.read_effect:  # listed so the tree is complete, but with nothing to follow
                why = html.escape(_not_served(base + shown, entry.read_effect).strip())
                name = f'<td title="{why}">{html.escape(shown)}</td>'
            else:
                href = html.escape(quote(base + shown))
                name = f'<td><a href="{href}">{html.escape(shown)}</a></td>'
            rows.append(f"<tr>{name}<td>{size}</td><td>{_clock(entry.mtime_ns)}</td></tr>")
            if (
                not entry.is_dir
                and not entry.read_effect
                and entry.name in ("README", "README.md", "README.txt")
            ):
                readme = readme or entry
        readme_html = ""
        if readme is not None and readme.size <= README_INLINE_LIMIT:
            try:
                text = (await root.read(join(source, readme.name))).decode("utf-8", "replace")
                readme_html = (
                    f"<h2>{html.escape(readme.name)}</h2>\n<pre>{html.escape(text)}</pre>\n"
                )
            except Exception:
                log.debug("httpfs: README of %s unreadable", source, exc_info=True)
        page = (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<table>\n"
            "<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
            + "\n".join(rows)
            + "\n</table>\n"
            + readme_html
            + f"<hr>\n<footer>pfs httpfs server - serving: {html.escape(self.pfs_path)}</footer>\n"
            "</body>\n</html>\n"
        )
        return page.encode("utf-8")


def _not_served(url_path: str, effect: ReadEffect) -> str:
    return (
        f"403 forbidden: reading {url_path} has an effect ({effect.value}), so httpfs never does\n"
    )


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]] | None:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return None
        headers[name.strip().lower()] = value.strip()
    if parts[2] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return parts[0].upper(), parts[1], headers


async def _discard_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    """httpfs answers every method like GET; a request body is read and dropped."""
    length = int(headers.get("content-length", "0") or 0)
    while length > 0:
        piece = await reader.read(min(length, 64 * 1024))
        if not piece:
            raise ConnectionError("client closed mid-body")
        length -= len(piece)


_REASONS = {
    200: "OK",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
}


def _head_bytes(
    status: int, length: int, ctype: str, keep_alive: bool, extra: list[tuple[str, str]] | None
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
        f"Content-Type: {ctype}",
        f"Content-Length: {length}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: pfs-httpfs",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    lines += [f"{name}: {value}" for name, value in extra or ()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    ctype: str,
    keep_alive: bool,
    head_only: bool = False,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    writer.write(_head_bytes(status, len(body), ctype, keep_alive, extra))
    if not head_only:
        writer.write(body)
    await writer.drain()


async def _send_stream(
    writer: asyncio.StreamWriter,
    status: int,
    chunks: Any,
    length: int,
    ctype: str,
    keep_alive: bool,
    head_only: bool,
    extra: list[tuple[str, str]],
) -> None:
    try:
        writer.write(_head_bytes(status, length, ctype, keep_alive, extra))
        if head_only:
            await writer.drain()
            return
        sent = 0
        async for chunk in chunks:
            chunk = chunk[: length - sent]
            writer.write(chunk)
            sent += len(chunk)
            await writer.drain()  # backpressure: one chunk in flight per slow client
            if sent >= length:
                break
        if sent < length:
            # The file shrank under us; the declared length cannot be honoured: drop the line.
            raise ConnectionError(f"short body: {sent} of {length} bytes")
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
