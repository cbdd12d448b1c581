"""Text in SQL: column values as ``str`` and ``LIKE`` patterns that match names literally."""

from __future__ import annotations

from typing import Any


def as_text(value: Any) -> str:
    """A text column's value as ``str`` (MySQL returns VARBINARY and some collations as bytes)."""
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else value


def escape_like(text: str, escape: str = "\\") -> str:
    """``text`` with ``escape``, ``%`` and ``_`` escaped, for a ``LIKE … ESCAPE`` pattern."""
    return (
        text.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
    )


def like_below(parent: str, escape: str = "\\") -> str:
    """``LIKE`` pattern for every ``/``-separated name strictly below ``parent`` (``/``: every
    absolute path)."""
    return ("" if parent == "/" else escape_like(parent, escape)) + "/%"
