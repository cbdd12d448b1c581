"""Plugin config schemas: declared once per plugin, checked at mount time, printed as samples."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pfs.fs.errors import InvalidArgument

#: Keys every plugin accepts; the server injects ``mount_path`` itself.
COMMON_KEYS = ("mount_path",)

_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_size(value: Any) -> int:
    """``"10MB"``, ``"512 kb"``, ``1.5GB`` or a plain number of bytes → bytes (binary multiples)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size format: {value}")
    if isinstance(value, int | float):
        return int(value)
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(
            f"invalid size format: {value} (expected format: number followed by B, KB, MB or GB)"
        )
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "B").upper()])


def parse_duration(value: Any) -> float:
    """Seconds as a number (``300``, ``1.5``, ``"300"``) or a Go duration (``"5m"``,
    ``"1h30m"``, ``"250ms"``) → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration: {value}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"invalid duration: {value!r} (expected seconds or a duration such as 30s, 5m, 1h)"
        )
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def format_size(size: float) -> str:
    """Bytes as the largest unit that divides them exactly (``1GB``, ``1536KB``, ``100B``): the
    inverse of :func:`parse_size`, for messages."""
    size = int(size)
    for unit in ("TB", "GB", "MB", "KB"):
        if size and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return f"{size}B"


@dataclass(frozen=True, slots=True)
class Field:
    """One config key of a plugin.

    ``type`` is one of ``string``, ``int``, ``number``, ``bool``, ``list``, ``map``, ``size``
    (a size string such as ``"10MB"`` or a byte count), ``duration`` (seconds, or a Go duration
    such as ``"5m"``; read as float seconds) and ``port`` (an integer or a numeric string).
    ``min`` and ``max`` bound the value of a numeric key (inclusive; sizes in bytes): a value
    that is the right type but out of range is refused like a wrong type.
    """

    key: str
    type: str
    default: Any = None
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    #: Other names of this key (another server's spelling); a config gives at most one of them.
    aliases: tuple[str, ...] = ()


_EXPECTED = {
    "string": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "a boolean (true or false)",
    "list": "a list",
    "map": "a map of keys to values",
    "size": "a size such as 512KB, 10MB or a number of bytes",
    "port": "a port number (1-65535)",
    "duration": "seconds or a duration such as 30s, 5m or 1h",
}


def _coerce(plugin: str, field: Field, value: Any) -> Any:
    given = value

    def bad() -> InvalidArgument:
        return InvalidArgument(
            f"{plugin}: config key '{field.key}' must be {_EXPECTED[field.type]}, "
            f"got {type(given).__name__} {given!r}"
        )

    kind = field.type
    if kind == "string":
        if not isinstance(value, str):
            raise bad()
        if field.choices and value not in field.choices:
            raise InvalidArgument(
                f"{plugin}: config key '{field.key}' must be one of "
                f"{', '.join(field.choices)}, got {value!r}"
            )
        return value
    if kind == "bool":
        if isinstance(value, str):
            # AGFS's shell sends every mount value as a string (``cache_enabled=false``).
            value = _BOOL_TEXT.get(value.strip(), value)
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind in ("int", "number") and isinstance(value, str):
        value = _number_from_text(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise bad()
        return int(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad()
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise bad()
        return value
    if kind == "map":
        if not isinstance(value, Mapping):
            raise bad()
        return dict(value)
    if kind == "size":
        try:
            size = parse_size(value)
        except ValueError as exc:
            raise InvalidArgument(f"{plugin}: config key '{field.key}': {exc}") from None
        if size < 0 or (size == 0 and not _zero_allowed(field)):
            raise bad()
        return size
    if kind == "duration":
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise InvalidArgument(f"{plugin}: config key '{field.key}': {exc}") from None
        if not (seconds > 0 or (seconds == 0 and _zero_allowed(field))):
            raise bad()
        return seconds
    if kind == "port":
        try:
            port = int(value) if not isinstance(value, bool) else -1
        except (TypeError, ValueError):
            raise bad() from None
        if not 0 <= port <= 65535 or (isinstance(value, float) and value != port):
            raise bad()
        return port
    raise AssertionError(f"unknown field type {kind}")


#: Boolean texts as Go's ``strconv.ParseBool`` reads them.
_BOOL_TEXT = {
    **dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
    **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False),
}
_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def _number_from_text(text: str) -> Any:
    """A numeric string (``"9000"``, ``"1.5"``) as its number; anything else unchanged, for the
    caller to refuse."""
    if not _NUMBER_RE.match(text):
        return text
    number = float(text)
    return int(number) if number.is_integer() and not any(c in text for c in ".eE") else number


def _zero_allowed(field: Field) -> bool:
    """Sizes and durations are positive unless the field's range starts at 0 (0 = off)."""
    return field.min is not None and field.min <= 0


def _check_range(plugin: str, field: Field, value: Any, given: Any) -> None:
    """Refuse ``value`` (``given`` as written in the config) outside ``field``'s min/max."""
    low, high = field.min, field.max
    # Written so that NaN (YAML's .nan) fails every comparison and is refused.
    if (low is None or value >= low) and (high is None or value <= high):
        return
    show = format_size if field.type == "size" else _number_text
    if low is not None and high is not None:
        allowed = f"between {show(low)} and {show(high)}"
    elif low is not None:
        allowed = f"at least {show(low)}"
    else:
        assert high is not None  # the value broke one of the bounds
        allowed = f"at most {show(high)}"
    raise InvalidArgument(f"{plugin}: config key '{field.key}' must be {allowed}, got {given!r}")


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def validate_config(
    plugin: str, schema: tuple[Field, ...], config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Check ``config`` against ``schema``; return it with defaults filled in.

    Raises:
        InvalidArgument: naming the plugin, the key and what was expected, for unknown keys,
            missing required keys, wrong types and values out of range.
    """
    config = dict(config or {})
    if not isinstance(config, dict):
        raise InvalidArgument(f"{plugin}: config must be a map of keys to values")
    known = {name: f for f in schema for name in (f.key, *f.aliases)}
    unknown = sorted(k for k in config if k not in known and k not in COMMON_KEYS)
    if unknown:
        allowed = ", ".join(sorted([*known, *COMMON_KEYS]))
        names = ", ".join(f"'{k}'" for k in unknown)
        raise InvalidArgument(
            f"{plugin}: unknown configuration parameter {names} (allowed parameters are: {allowed})"
        )
    result: dict[str, Any] = {"mount_path": config.get("mount_path", "")}
    for field in schema:
        value = _value(plugin, field, config)
        # An empty string is an unset string or duration (AGFS writes ``rotation_interval: ""``).
        if value is None or (value == "" and field.type in ("string", "duration")):
            if field.required:
                raise InvalidArgument(
                    f"{plugin}: {field.key} is required in configuration ({_EXPECTED[field.type]})"
                )
            result[field.key] = field.default
            continue
        result[field.key] = _coerce(plugin, field, value)
        _check_range(plugin, field, result[field.key], value)
    return result


def _value(plugin: str, field: Field, config: Mapping[str, Any]) -> Any:
    """The value ``config`` gives ``field`` under its key or one of its aliases."""
    given = [name for name in (field.key, *field.aliases) if config.get(name) is not None]
    if len(given) > 1:
        raise InvalidArgument(f"{plugin}: {' and '.join(given)} are the same key; keep one")
    return config[given[0]] if given else None


def sample_config(schema: tuple[Field, ...]) -> dict[str, Any]:
    """A config mapping with every key at its default (or a placeholder when required)."""
    sample: dict[str, Any] = {}
    for field in schema:
        if field.default is not None:
            sample[field.key] = field.default
        elif field.required:
            sample[field.key] = f"<{field.key}>"
    return sample
