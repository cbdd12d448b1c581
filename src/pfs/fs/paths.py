"""Path rules shared by the mount table and plugins: one normal form, no climbing above ``/``."""

from __future__ import annotations

import posixpath

from pfs.fs.errors import InvalidArgument


def normalize(path: str) -> str:
    """Clean ``path`` lexically like Go's ``filepath.Clean`` on an absolute path.

    Empty becomes ``/``; ``.``, ``..`` and repeated slashes are resolved; ``..`` never climbs above
    the root; a trailing slash is dropped. NUL bytes are refused.
    """
    if path[:1] == "/" and path[-1:] != "/" and "//" not in path and "/." not in path:
        if "\x00" not in path:
            return path  # already clean: the common case, checked cheaply
    if "\x00" in path:
        raise InvalidArgument(f"invalid argument path: contains a NUL byte: {path!r}")
    if not path or path == "/":
        return "/"
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if cleaned.startswith("//") and cleaned.strip("/") == "" else cleaned


def split_parent(path: str) -> tuple[str, str]:
    """``/a/b/c`` → (``/a/b``, ``c``); the root's parent is itself."""
    parent, _, name = path.rpartition("/")
    return (parent or "/"), name


def join(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else f"{parent}/{name}"
