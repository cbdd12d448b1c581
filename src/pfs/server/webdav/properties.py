"""Properties of a resource: the live ones, worked out from its FileInfo and its locks (never
from its content, so PROPFIND reads no file), and the dead ones clients set with PROPPATCH,
kept in memory per path."""

from __future__ import annotations

import mimetypes
from xml.sax.saxutils import escape

from pfs.fs.errors import InsufficientStorage
from pfs.fs.fileinfo import FileInfo
from pfs.http.conditional import etag, http_date
from pfs.server.webdav.locks import Lock
from pfs.server.webdav.xmlbodies import DAV, PropName, element

#: Bytes of dead properties kept over all resources; PROPPATCH past it is refused (507).
MAX_DEAD_BYTES = 16 << 20

LIVE: tuple[PropName, ...] = tuple(
    (DAV, name)
    for name in (
        "resourcetype",
        "getcontentlength",
        "getlastmodified",
        "getetag",
        "getcontenttype",
        "displayname",
        "supportedlock",
        "lockdiscovery",
    )
)

_SUPPORTED_LOCK = "".join(
    f"<D:lockentry><D:lockscope><D:{scope}/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype></D:lockentry>"
    for scope in ("exclusive", "shared")
)


def content_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def live_value(name: PropName, info: FileInfo, locks: list[Lock], href_of: str) -> str | None:
    """The element of live property ``name`` (None: the resource has no such property)."""
    local = name[1]
    if local == "resourcetype":
        return element(name, "<D:collection/>" if info.is_dir else "")
    if local == "displayname":
        return element(name, escape(info.name))
    if local == "supportedlock":
        return element(name, _SUPPORTED_LOCK)
    if local == "lockdiscovery":
        return element(name, "".join(active_lock(lock, href_of) for lock in locks))
    if local == "getlastmodified":
        return element(name, http_date(info.mtime_ns))
    if info.is_dir:
        return None
    if local == "getcontentlength":
        return element(name, str(info.size))
    if local == "getetag":
        return element(name, escape(etag(info)))
    if local == "getcontenttype":
        return element(name, content_type(info.name))
    return None


def active_lock(lock: Lock, href: str) -> str:
    return (
        "<D:activelock>"
        f"<D:locktype><D:write/></D:locktype>"
        f"<D:lockscope><D:{'exclusive' if lock.exclusive else 'shared'}/></D:lockscope>"
        f"<D:depth>{'infinity' if lock.infinite else '0'}</D:depth>"
        f"{lock.owner}"
        f"<D:timeout>Second-{lock.remaining()}</D:timeout>"
        f"<D:locktoken><D:href>{lock.token}</D:href></D:locktoken>"
        f"<D:lockroot><D:href>{escape(href)}</D:href></D:lockroot>"
        "</D:activelock>"
    )


class DeadProperties:
    """PROPPATCH'd properties: path → name → serialised element, bounded in total size."""

    def __init__(self) -> None:
        self._by_path: dict[str, dict[PropName, str]] = {}
        self._bytes = 0

    def of(self, path: str) -> dict[PropName, str]:
        return self._by_path.get(path, {})

    def apply(self, path: str, changes: list[tuple[PropName, str | None]]) -> None:
        """Set (value) or remove (None) each property, all or nothing."""
        props = dict(self._by_path.get(path, {}))
        before = sum(len(v) for v in props.values())
        for name, value in changes:
            if value is None:
                props.pop(name, None)
            else:
                props[name] = value
        after = sum(len(v) for v in props.values())
        if self._bytes - before + after > MAX_DEAD_BYTES:
            raise InsufficientStorage(
                f"proppatch: {path}: dead properties would exceed {MAX_DEAD_BYTES} bytes "
                "(the server's limit)"
            )
        self._bytes += after - before
        if props:
            self._by_path[path] = props
        else:
            self._by_path.pop(path, None)

    def _subtree(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p for p in self._by_path if p == path or p.startswith(prefix)]

    def drop(self, path: str) -> None:
        """Forget the properties of ``path`` and everything below it."""
        for p in self._subtree(path):
            self._bytes -= sum(len(v) for v in self._by_path.pop(p).values())

    def copy(self, source: str, destination: str, subtree: bool = True) -> None:
        """Give the copy at ``destination`` the properties of ``source`` (and of its subtree)
        within the size bound: what does not fit is not copied."""
        for p in self._subtree(source) if subtree else [source] if source in self._by_path else []:
            props = self._by_path[p]
            size = sum(len(v) for v in props.values())
            if self._bytes + size > MAX_DEAD_BYTES:
                return
            target = destination + p[len(source) :]
            self.drop_one(target)
            self._by_path[target] = dict(props)
            self._bytes += size

    def drop_one(self, path: str) -> None:
        props = self._by_path.pop(path, None)
        if props:
            self._bytes -= sum(len(v) for v in props.values())
