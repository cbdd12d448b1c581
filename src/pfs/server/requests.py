"""Reading a request in a handler: query parameters and JSON bodies, each bad value a 400."""

from __future__ import annotations

import re
from typing import Any

import orjson

from pfs.fs.errors import InvalidArgument
from pfs.http.requests import Request

#: Offsets and sizes are int64 on the wire, as in the original; anything larger is refused
#: before a plugin could try to allocate or seek that far.
INT64_MAX = (1 << 63) - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")

#: What every refused JSON body is called, as the original says it.
BAD_BODY = "invalid request body"


def required_path(req: Request) -> str:
    path = req.query.get("path", "")
    if not path:
        raise InvalidArgument("path parameter is required")
    return path


def int_param(req: Request, name: str, default: int, minimum: int = -INT64_MAX - 1) -> int:
    """A decimal int64 query parameter no smaller than ``minimum``; ``default`` when absent."""
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not _DECIMAL.fullmatch(raw):
        raise InvalidArgument(f"invalid {name} parameter")
    # Past 19 digits it is out of range anyway (and int() of thousands of digits is slow).
    value = int(raw) if len(raw.lstrip("+-0")) <= 19 else None
    if value is None or not minimum <= value <= INT64_MAX:
        raise InvalidArgument(
            f"invalid {name} parameter: {raw[:40]} is out of range ({minimum} to {INT64_MAX})"
        )
    return value


async def json_body(req: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object (at most ``limit`` bytes); a 400 when it is not one."""
    try:
        body = await req.json(limit)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{BAD_BODY}: {exc.msg}") from None
    if not isinstance(body, dict):
        raise InvalidArgument(f"{BAD_BODY}: expected a JSON object")
    return body


def body_field(body: dict, name: str, kind: type) -> Any:
    """A JSON field matched case-insensitively (as Go's decoder does), type-checked."""
    lowered = name.lower()
    for key, value in body.items():
        if key.lower() == lowered:
            if value is None:
                return None
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                raise InvalidArgument(f"{BAD_BODY}: {name} must be {kind.__name__}")
            if kind is not int and not isinstance(value, kind):
                raise InvalidArgument(f"{BAD_BODY}: {name} must be {kind.__name__}")
            return value
    return None
