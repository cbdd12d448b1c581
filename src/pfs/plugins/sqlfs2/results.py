"""Text sqlfs2 answers with (AGFS's shapes) and the records a ``data`` write carries.

Rows are gathered by :class:`Rows`, which formats each row as it arrives and refuses a result
past ``max_result_size`` (named in the error), so a large SELECT never builds unbounded memory.
"""

from __future__ import annotations

import base64
import datetime
import decimal
from collections.abc import Sequence
from typing import Any

import orjson

from pfs.fs import InvalidArgument, TooLarge
from pfs.fs.config import format_size


def _value(value: Any) -> Any:
    """A column value as JSON: bytes as text (base64 when they are not UTF-8), dates in RFC
    3339, decimals as strings (exact)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


class Rows:
    """A query result being formatted: Go's ``json.MarshalIndent(rows, "", "  ")`` + ``\\n``."""

    def __init__(self, columns: Sequence[str], limit: int) -> None:
        self.columns = list(columns)
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, row: Sequence[Any]) -> None:
        obj = {name: _value(value) for name, value in zip(self.columns, row, strict=False)}
        text = orjson.dumps(obj, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
        self.size += len(text) + 4
        if self.size > self.limit:
            raise TooLarge(
                f"query result exceeds max_result_size ({format_size(self.limit)}); "
                "select fewer rows (LIMIT) or columns"
            )
        self.parts.append(b"  " + text)

    def text(self) -> bytes:
        if not self.parts:
            return b"null\n"
        return b"[\n" + b",\n".join(self.parts) + b"\n]\n"


def exec_text(last_insert_id: int, rows_affected: int) -> bytes:
    return orjson.dumps(
        {"last_insert_id": last_insert_id, "rows_affected": rows_affected},
        option=orjson.OPT_INDENT_2,
    ) + b"\n"


def execute_view_text(last_insert_id: int, rows_affected: int) -> bytes:
    """The original's ``execute`` answer: ``last_insert_id`` only when there is one."""
    answer: dict[str, int] = {"rows_affected": rows_affected}
    if last_insert_id > 0:
        answer["last_insert_id"] = last_insert_id
    return orjson.dumps(answer, option=orjson.OPT_INDENT_2)


def _column_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def parse_records(body: bytes) -> list[dict[str, Any]]:
    """The records of a ``data`` write: one JSON object, an array of objects, or NDJSON (one
    object per line). Nested objects and arrays are stored as JSON text.

    Raises:
        InvalidArgument: invalid JSON (the line for NDJSON), a non-object, no records.
    """
    text = body.strip()
    if not text:
        raise InvalidArgument("no records to insert")
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise InvalidArgument(f"invalid JSON: {exc}") from None
        parsed = []
        for number, line in enumerate(lines, 1):
            try:
                parsed.append(orjson.loads(line))
            except orjson.JSONDecodeError as line_exc:
                raise InvalidArgument(f"invalid JSON at line {number}: {line_exc}") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise InvalidArgument("JSON must be an object or array of objects")
    if not parsed:
        raise InvalidArgument("no records to insert")
    records = []
    for index, record in enumerate(parsed):
        if not isinstance(record, dict):
            raise InvalidArgument(f"element at index {index} is not a JSON object")
        if not record:
            raise InvalidArgument(f"element at index {index} has no columns")
        records.append({key: _column_value(value) for key, value in record.items()})
    return records
