"""httpfs's ASGI app: a PFS path as browsable HTML listings and downloads (with ranges).

Every method is answered like GET, HEAD without the body, as the original does. Files are read
through the namespace at request time, so whatever is mounted under the served path shows.
Files whose read has an effect (a queue's ``dequeue``, a live stream) are never read: GET/HEAD of
one answers 403 and listings show it without a link.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import posixpath
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from pfs.fs import FileInfo, FileSystem, FSError, ReadEffect
from pfs.fs.paths import join, normalize
from pfs.http.ranges import range_response
from pfs.http.requests import Request
from pfs.http.responses import Response, StreamResponse, head_only, text_response
from pfs.plugins.httpfs.auth import Credentials
from pfs.web.assets import stylesheet
from pfs.web.sizes import human_size

log = logging.getLogger("pfs.plugins.httpfs")

HTML_TYPE = b"text/html; charset=utf-8"
#: Files up to this size are read in one call (exact Content-Length even for virtual files whose
#: stat size is 0); larger ones are streamed.
WHOLE_READ_LIMIT = 1 << 20
#: A README up to this size is shown under a directory listing.
README_INLINE_LIMIT = 64 * 1024

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


def clock(ns: int) -> str:
    """A time as listings and the status file show it (local time, to the second)."""
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


class Site:
    """Serves ``pfs_path`` of ``namespace`` to clients that pass ``credentials``."""

    def __init__(self, namespace: FileSystem, pfs_path: str, credentials: Credentials) -> None:
        self.namespace = namespace
        self.pfs_path = pfs_path
        self.credentials = credentials

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # no lifespan, no websockets: the server is told so
            return
        response = await self._answer(Request(scope, receive))
        if scope["method"] == "HEAD":
            response = await head_only(response)
        await response(send, receive)

    async def _answer(self, request: Request) -> Response | StreamResponse:
        authorization = request.header(b"authorization") or b""
        if not self.credentials.allow(authorization.decode("latin-1")):
            return text_response(401, "401 unauthorized", self.credentials.challenges())
        url_path = normalize(request.path)
        source = self.pfs_path if url_path == "/" else join(self.pfs_path, url_path[1:])
        try:
            info = await self.namespace.stat(source)
        except FSError:
            return text_response(404, "404 page not found")
        if info.is_dir:
            try:
                return Response(200, await self._listing(url_path, source), HTML_TYPE)
            except FSError:
                log.debug("httpfs: readdir %s failed", source, exc_info=True)
                return text_response(500, "Failed to read directory")
        if info.read_effect:
            return text_response(403, _not_served(url_path, info.read_effect))
        try:
            return await self._file(source, info, request.header(b"range"))
        except FSError as exc:
            log.debug("httpfs: read %s failed", source, exc_info=True)
            return text_response(500, f"Failed to read file: {exc}")

    async def _file(
        self, source: str, info: FileInfo, range_header: bytes | None
    ) -> Response | StreamResponse:
        ctype = content_type(posixpath.basename(source)).encode()
        modified = (b"last-modified", formatdate(info.mtime_ns / 1e9, usegmt=True).encode())
        if range_header is not None:
            ranged = await range_response(
                self.namespace,
                source,
                info,
                range_header.decode("latin-1"),
                content_type=ctype,
                headers=[modified],
                error=text_response,
            )
            if ranged is not None:
                return ranged
        headers = [modified, (b"accept-ranges", b"bytes")]
        if info.size <= WHOLE_READ_LIMIT:
            return Response(200, await self.namespace.read(source), ctype, headers)
        # The stated size bounds the read, so a file growing meanwhile cannot overrun the length.
        chunks = await self.namespace.read_stream(source, 0, info.size)
        headers.append((b"content-length", b"%d" % info.size))
        return StreamResponse(chunks, ctype, 200, headers)

    async def _listing(self, url_path: str, source: str) -> bytes:
        entries = sorted(await self.namespace.readdir(source), key=lambda e: (not e.is_dir, e.name))
        title = html.escape(f"Directory listing for {url_path}")
        base = url_path if url_path.endswith("/") else url_path + "/"
        rows = []
        if url_path != "/":
            parent = posixpath.dirname(url_path.rstrip("/")) or "/"
            parent = parent if parent.endswith("/") else parent + "/"
            rows.append(
                f'<tr><td class="name"><a href="{html.escape(quote(parent))}">'
                '<span class="icon dir"></span>../</a></td><td class="size">—</td><td></td></tr>'
            )
        readme: FileInfo | None = None
        for entry in entries:
            shown = entry.name + ("/" if entry.is_dir else "")
            icon = f'<span class="icon {"dir" if entry.is_dir else "file"}"></span>'
            if entry.read_effect:  # listed so the tree is complete, but with nothing to follow
                why = html.escape(_not_served(base + shown, entry.read_effect))
                name = (
                    f'<td class="name" title="{why}"><span class="icon effect"></span>'
                    f"{html.escape(shown)}</td>"
                )
            else:
                href = html.escape(quote(base + shown))
                name = f'<td class="name"><a href="{href}">{icon}{html.escape(shown)}</a></td>'
            size = "—" if entry.is_dir else human_size(entry.size)
            rows.append(
                f'<tr>{name}<td class="size" title="{entry.size} bytes">{size}</td>'
                f"<td>{clock(entry.mtime_ns)}</td></tr>"
            )
            if (
                not entry.is_dir
                and not entry.read_effect
                and entry.name in ("README", "README.md", "README.txt")
            ):
                readme = readme or entry
        readme_html = ""
        if readme is not None and readme.size <= README_INLINE_LIMIT:
            try:
                text = (await self.namespace.read(join(source, readme.name))).decode(
                    "utf-8", "replace"
                )
                readme_html = (
                    f'<section class="panel"><h2>{html.escape(readme.name)}</h2>\n'
                    f"<pre>{html.escape(text)}</pre></section>\n"
                )
            except FSError:
                log.debug("httpfs: README of %s unreadable", source, exc_info=True)
        page = (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{stylesheet()}</style>\n</head>\n<body>\n"
            '<header class="bar"><span class="brand">PFS</span>'
            '<span class="muted">httpfs · read-only</span></header>\n<main>\n'
            f"<h1>{title}</h1>\n{_crumbs(url_path)}\n"
            '<table class="listing">\n<thead><tr><th>Name</th><th class="size">Size</th>'
            "<th>Modified</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows)
            + "\n</tbody>\n</table>\n"
            + readme_html
            + f"<footer>pfs httpfs server - serving: {html.escape(self.pfs_path)}</footer>\n"
            "</main>\n</body>\n</html>\n"
        )
        return page.encode("utf-8")


def _crumbs(url_path: str) -> str:
    """Links to every directory above ``url_path`` (as the web file manager shows them)."""
    parts = [part for part in url_path.split("/") if part]
    links = ['<a href="/">/</a>']
    for i, part in enumerate(parts):
        if i:
            links.append('<span class="sep">/</span>')
        if i == len(parts) - 1:
            links.append(f"<span>{html.escape(part)}</span>")
        else:
            href = html.escape(quote("/" + "/".join(parts[: i + 1]) + "/"))
            links.append(f'<a href="{href}">{html.escape(part)}</a>')
    return '<nav class="crumbs">' + "".join(links) + "</nav>"


def _not_served(url_path: str, effect: ReadEffect) -> str:
    return f"403 forbidden: reading {url_path} has an effect ({effect.value}), so httpfs never does"
