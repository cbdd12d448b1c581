"""Symbolic links: the mount table's own table of them, and the signal a plugin that stores links
itself (localfs) raises when a path crosses one.

A link's target is a namespace path, absolute or relative to the link's directory, kept as it
was given; it may dangle or point into another mount. Following is done by the mount table
(:mod:`pfs.fs.mounts`), component by component, at most :data:`MAX_HOPS` links per request.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field

from pfs.fs.errors import SymlinkLoop
from pfs.fs.fileinfo import FileInfo, Meta
from pfs.fs.paths import normalize, split_parent

#: Links one path may pass through (Linux allows 40; AGFS 10, which its clients expect).
MAX_HOPS = 10

#: What a link looks like in listings and ``stat``: any name, every permission (as lstat shows).
LINK_MODE = 0o777
LINK_TYPE = "symlink"


class LinkInPath(Exception):  # noqa: N818 -- a signal to the mount table, not an error
    """Raised by a plugin that stores symlinks when a path it was given crosses one (or ends in
    one, for operations that follow the last component). ``link`` is the plugin path of the link,
    a prefix of the path the plugin got; ``target`` the plugin path it leads to (plugin links
    never leave their mount). The mount table follows it and calls the plugin again."""

    def __init__(self, link: str, target: str) -> None:
        super().__init__(link, target)
        self.link = link
        self.target = target


def target_path(link: str, target: str) -> str:
    """The absolute namespace path ``target`` names, for a link at ``link``."""
    if target.startswith("/"):
        return normalize(target)
    return normalize(posixpath.join(split_parent(link)[0], target))


def hop(hops: int, shown: str) -> int:
    """One more link followed for a request on ``shown``; refused past :data:`MAX_HOPS`
    (which is also how a loop of links ends)."""
    hops += 1
    if hops > MAX_HOPS:
        raise SymlinkLoop(f"too many levels of symbolic links: {shown}")
    return hops


def link_info(name: str, target: str, mtime_ns: int, is_dir: bool, source: str = "") -> FileInfo:
    """The ``stat``/listing entry of a link itself (not followed): its target in the meta."""
    return FileInfo(
        name,
        len(target.encode()),
        LINK_MODE,
        mtime_ns,
        is_dir,
        Meta(source, LINK_TYPE, {"target": target}),
    )


@dataclass
class Link:
    target: str
    mtime_ns: int = field(default_factory=time.time_ns)


class LinkTable:
    """The links the mount table keeps itself, by normalised path: links in plugins that cannot
    store them, at the root and in virtual directories. In memory: they last until the server
    stops (they survive an unmount, as in AGFS)."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        #: directory → names of the links in it, for listings.
        self._by_dir: dict[str, dict[str, None]] = {}

    def get(self, path: str) -> Link | None:
        return self.links.get(path)

    def add(self, path: str, target: str) -> None:
        self.links[path] = Link(target)
        parent, name = split_parent(path)
        self._by_dir.setdefault(parent, {})[name] = None

    def remove(self, path: str) -> Link | None:
        link = self.links.pop(path, None)
        if link is not None:
            parent, name = split_parent(path)
            names = self._by_dir[parent]
            del names[name]
            if not names:
                del self._by_dir[parent]
        return link

    def names_in(self, directory: str) -> list[str]:
        return list(self._by_dir.get(directory, ()))

    def follow(self, path: str, follow_last: bool, hops: int, shown: str) -> tuple[str, int]:
        """``path`` with every link of this table among its components replaced by its target
        (the last component too when ``follow_last``), and the hops taken so far."""
        links = self.links
        start = 1
        while True:
            cut = path.find("/", start)
            prefix = path if cut < 0 else path[:cut]
            if cut < 0 and not follow_last:
                return path, hops
            link = links.get(prefix)
            if link is not None:
                hops = hop(hops, shown)
                rest = "" if cut < 0 else path[cut:]
                path = normalize(target_path(prefix, link.target) + rest)
                start = 1
                continue
            if cut < 0:
                return path, hops
            start = cut + 1
