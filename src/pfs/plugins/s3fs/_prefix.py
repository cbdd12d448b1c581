"""Where a configured ``prefix`` puts keys: ``p/<path>`` (the original's layout and ours, ``pfs``)
or ``__PREFIX__p__/<path>`` (AGFS's, ``agfs``).

``prefix_layout: auto`` (the default) looks in the bucket when the mount starts: keys under
AGFS's wrapped prefix alone mean AGFS's layout; anything else, an empty prefix included, means
ours. A bucket with keys under both is refused: the mount must say which it wants.
"""

from __future__ import annotations

from typing import Any

from pfs.fs import Field, InvalidArgument
from pfs.plugins.s3fs._errors import s3_errors

LAYOUTS = ("auto", "pfs", "agfs")

LAYOUT_FIELD = Field(
    "prefix_layout",
    "string",
    default="auto",
    choices=LAYOUTS,
    help="prefix keys as pfs (prefix/...) or agfs (__PREFIX__prefix__/...); auto: detect",
)


def key_root(prefix: str, layout: str) -> str:
    """The key every object of the mount starts with (``""``: the whole bucket)."""
    if not prefix:
        return ""
    return f"__PREFIX__{prefix}__" if layout == "agfs" else prefix


async def detect(s3: Any, bucket: str, prefix: str) -> str:
    """``pfs`` or ``agfs``: the layout of the keys already under ``prefix``.

    Raises:
        InvalidArgument: keys exist in both layouts.
    """
    if not prefix:
        return "pfs"
    found = {}
    for layout in ("pfs", "agfs"):
        with s3_errors(f"failed to initialize s3fs: failed to list bucket {bucket}"):
            page = await s3.list_objects_v2(
                Bucket=bucket, Prefix=key_root(prefix, layout) + "/", MaxKeys=1
            )
        found[layout] = bool(page.get("KeyCount") or page.get("Contents"))
    if found["pfs"] and found["agfs"]:
        raise InvalidArgument(
            f"s3fs: bucket {bucket} has keys under both {prefix}/ and {key_root(prefix, 'agfs')}/:"
            " set prefix_layout to pfs or agfs"
        )
    return "agfs" if found["agfs"] else "pfs"
