"""Which mount a path falls in, seen from a client (for rename across mounts → copy + delete).

The server answers a cross-mount rename with 400 like any bad argument; clients that want POSIX
``EXDEV`` behaviour ask ``GET /mounts`` and compare the longest-prefix mount of both paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def mount_point(path: str, mounts: Iterable[dict[str, Any]]) -> str | None:
    """The mount path serving ``path`` (longest prefix on a path boundary), or None."""
    best: str | None = None
    for mount in mounts:
        point = mount.get("path", "")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best)):
            best = point
    return best


def crosses_mounts(old: str, new: str, mounts: Iterable[dict[str, Any]]) -> bool:
    mounts = list(mounts)
    return mount_point(old, mounts) != mount_point(new, mounts)
