"""What every WebDAV method sees: the server's state, the URL prefix, the lock manager and the
dead properties; and the checks several methods share (paths, parents, ``If`` and locks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

from pfs.fs.errors import InvalidArgument, NotFound, PreconditionFailed
from pfs.fs.fileinfo import FileInfo
from pfs.fs.paths import normalize, split_parent
from pfs.http.conditional import etag
from pfs.http.requests import Request
from pfs.server.state import State
from pfs.server.webdav.conditions import holds, parse_if, submitted_tokens
from pfs.server.webdav.errors import Conflict, Locked
from pfs.server.webdav.locks import Lock, LockManager
from pfs.server.webdav.properties import DeadProperties

#: Bytes of an XML request body (PROPFIND, PROPPATCH, LOCK) beyond which it is refused (413).
MAX_XML_BYTES = 1 << 20
#: XML bodies up to this size are parsed on the event loop (well under a millisecond); larger
#: ones, up to MAX_XML_BYTES (several milliseconds), on a worker thread.
INLINE_XML_BYTES = 64 << 10

T = TypeVar("T")


async def xml_body(req: Request, parser: Callable[[bytes], T]) -> T:
    """The request's XML body (at most MAX_XML_BYTES) parsed by ``parser``."""
    body = await req.body(MAX_XML_BYTES)
    if len(body) <= INLINE_XML_BYTES:
        return parser(body)
    return await asyncio.to_thread(parser, body)


@dataclass
class Dav:
    state: State
    #: The URL path the namespace appears under, without a trailing slash (``/webdav``).
    prefix: str
    locks: LockManager = field(default_factory=LockManager)
    props: DeadProperties = field(default_factory=DeadProperties)

    # -- paths -----------------------------------------------------------------------------

    def path_of(self, url_path: str) -> str | None:
        """The namespace path of a (decoded) URL path, None when it is not under the prefix."""
        if url_path != self.prefix and not url_path.startswith(self.prefix + "/"):
            return None
        return normalize(url_path[len(self.prefix) :] or "/")

    def destination(self, header: bytes | None) -> str | None:
        """The namespace path a ``Destination`` (absolute URL or path) names; None when it is
        outside this server's WebDAV prefix."""
        if not header:
            raise InvalidArgument("Destination header is required")
        return self.path_of(unquote(urlsplit(header.decode("latin-1")).path))

    def href(self, path: str, is_dir: bool) -> str:
        tail = "/" if is_dir and path != "/" else ""
        return quote(self.prefix + path + tail, safe="/")

    # -- resources -------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo | None:
        try:
            return await self.state.fs.stat(path)
        except NotFound:
            return None

    async def parent_must_exist(self, path: str) -> None:
        """A new resource needs its parent collection (409 otherwise, RFC 4918 §9.7.1)."""
        parent = split_parent(path)[0]
        info = await self.stat(parent)
        if info is None or not info.is_dir:
            raise Conflict(f"parent collection does not exist: {parent}")

    # -- conditions and locks --------------------------------------------------------------

    def covering_parent(self, path: str) -> list[Lock]:
        """Locks protecting the membership of ``path``'s collection."""
        return [] if path == "/" else self.locks.covering(split_parent(path)[0])

    def removing(self, path: str) -> list[Lock]:
        """Locks a removal of ``path`` (and its subtree) needs the tokens of."""
        return [*self.locks.covering(path), *self.covering_parent(path), *self.locks.within(path)]

    async def guard(self, req: Request, path: str, protected: Iterable[Lock] = ()) -> set[str]:
        """Check the ``If`` header (412 when it does not hold) and that a token of each lock in
        ``protected`` is submitted (423 otherwise); the submitted tokens."""
        header = req.header(b"if")
        lists = parse_if(header.decode("latin-1")) if header else []

        async def state_of(resource: str | None) -> tuple[str | None, set[str]]:
            target = path if resource is None else self.path_of(unquote(urlsplit(resource).path))
            if target is None:
                return None, set()
            info = await self.stat(target)
            tokens = {lock.token for lock in self.locks.covering(target)}
            return (etag(info) if info is not None else None), tokens

        if lists and not await holds(lists, state_of):
            raise PreconditionFailed(f"the If header does not hold for {path}")
        tokens = submitted_tokens(lists)
        for lock in protected:
            if lock.token not in tokens:
                raise Locked(f"locked: {path} (submit the lock token in an If header)")
        return tokens


def depth(req: Request, default: str, allowed: tuple[str, ...]) -> str:
    """The ``Depth`` header ("0", "1" or "infinity"), ``default`` when absent; others 400."""
    raw = req.header(b"depth")
    value = default if raw is None else raw.decode("latin-1").strip().lower()
    if value not in allowed:
        raise InvalidArgument(f"invalid Depth header for {req.method}: {value!r}")
    return value
