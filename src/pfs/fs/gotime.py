"""Go's time and duration text formats, which the original's clients parse and show."""

from __future__ import annotations

import time

_offset_cache: dict[int, str] = {}
#: Formatted date/time and zone per whole second; listings repeat the same seconds a lot.
_second_cache: dict[int, tuple[str, str]] = {}
#: Millisecond fractions, the most common ones, pre-rendered.
_FRACTIONS = {ms * 1_000_000: "." + f"{ms:03d}".rstrip("0") for ms in range(1, 1000)}


def _zone_suffix(seconds: int) -> str:
    offset = time.localtime(seconds).tm_gmtoff
    suffix = _offset_cache.get(offset)
    if suffix is None:
        if offset == 0:
            suffix = "Z"
        else:
            sign = "+" if offset > 0 else "-"
            hours, minutes = divmod(abs(offset) // 60, 60)
            suffix = f"{sign}{hours:02d}:{minutes:02d}"
        _offset_cache[offset] = suffix
    return suffix


#: Whole texts by nanosecond time: a listing shows the same files' times again and again.
_text_cache: dict[int, str] = {}


def format_rfc3339nano(ns: int) -> str:
    """Go ``time.RFC3339Nano`` in the server's local zone: trailing fraction zeros trimmed."""
    text = _text_cache.get(ns)
    if text is None:
        if len(_text_cache) >= 65536:
            _text_cache.clear()
        text = _text_cache[ns] = _format(ns)
    return text


def _format(ns: int) -> str:
    if ns <= -62135596800 * 1_000_000_000:
        return "0001-01-01T00:00:00Z"
    seconds, frac = divmod(ns, 1_000_000_000)
    cached = _second_cache.get(seconds)
    if cached is None:
        tm = time.localtime(seconds)
        cached = (
            f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}"
            f"T{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}",
            _zone_suffix(seconds),
        )
        if len(_second_cache) > 4096:
            _second_cache.clear()
        _second_cache[seconds] = cached
    if frac:
        digits = _FRACTIONS.get(frac)
        if digits is None:
            digits = "." + f"{frac:09d}".rstrip("0")
        return cached[0] + digits + cached[1]
    return cached[0] + cached[1]


def format_rfc3339(seconds: float) -> str:
    """Go ``time.RFC3339`` (whole seconds) in the local zone."""
    return format_rfc3339nano(int(seconds) * 1_000_000_000)


def _trim_fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    if not frac:
        return str(whole)
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def format_duration(ns: int) -> str:
    """Go ``time.Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``250µs``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim_fraction(ns, 3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim_fraction(ns, 6)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = sign
    if hours:
        text += f"{hours}h"
    if hours or minutes:
        text += f"{minutes}m"
    return text + _trim_fraction(rest, 9) + "s"
