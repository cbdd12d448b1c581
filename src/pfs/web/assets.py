"""The files under ``static/``, read once from the installed package, each with its content type
and an ETag (a hash of its bytes) so browsers revalidate cheaply instead of keeping stale code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: bytes
    etag: bytes


@cache
def asset(name: str) -> Asset | None:
    """The asset called ``name`` (a bare file name such as ``app.js``), None if there is none:
    names with a path, or of a type not served, are never looked up."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in _TYPES:
        return None
    source = resources.files(__package__).joinpath("static", name)
    if not source.is_file():
        return None
    body = source.read_bytes()
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    return Asset(body, _TYPES[suffix], etag)


def stylesheet() -> str:
    """The shared stylesheet's text, for pages that inline it (httpfs serves no /ui/ assets)."""
    css = asset("pfs.css")
    assert css is not None, "pfs.css ships with the package"
    return css.body.decode()
