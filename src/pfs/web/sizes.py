"""Sizes for people: the units the web file manager shows (its JavaScript twin is format.js)."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int) -> str:
    """``532`` → ``532 B``, ``1536`` → ``1.5 KiB``, ``10485760`` → ``10 MiB``."""
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.1f}".removesuffix(".0") + " " + _UNITS[unit]
