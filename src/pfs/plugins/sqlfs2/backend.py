"""What sqlfs2 needs from a SQL back end. Names reaching a back end are checked identifiers
(:func:`~pfs.plugins.sqlfs2.places.check_identifier`) and are quoted anyway.

Every statement a user sends runs in a transaction of its own that is committed when it
succeeds and rolled back when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pfs.fs import InvalidArgument
from pfs.plugins.sqlfs2.results import Rows


@dataclass
class Outcome:
    """What one statement did: its rows (None for a statement without a result set), else the
    rows it changed and the id it generated."""

    rows: Rows | None = None
    rows_affected: int = 0
    last_insert_id: int = 0


class SQLFS2Backend:
    #: ``meta.Type`` of the root (``sqlite3`` or ``mysql``).
    kind = ""

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def databases(self) -> list[str]:
        raise NotImplementedError

    async def has_database(self, db: str) -> bool:
        raise NotImplementedError

    async def tables(self, db: str) -> list[str]:
        raise NotImplementedError

    async def has_table(self, db: str, table: str) -> bool:
        raise NotImplementedError

    async def schema(self, db: str, table: str) -> str:
        raise NotImplementedError

    async def count(self, db: str, table: str) -> int:
        raise NotImplementedError

    async def run(self, db: str | None, sql: str, limit: int) -> Outcome:
        """Run ``sql`` with ``db`` as the current database (None: the configured one); a
        result set past ``limit`` bytes of JSON raises TooLarge."""
        raise NotImplementedError

    async def insert(self, db: str, table: str, records: list[dict[str, Any]]) -> int:
        """Insert ``records`` (column → value) in one transaction; returns how many."""
        raise NotImplementedError

    async def drop_database(self, db: str) -> None:
        raise NotImplementedError

    async def drop_table(self, db: str, table: str) -> None:
        raise NotImplementedError


def known_columns(columns: list[str], record: dict[str, Any], index: int, table: str) -> list[str]:
    """The keys of ``record`` (the ``index``-th of a batch), each a column of ``table``; a
    column the record leaves out gets its default."""
    for key in record:
        if key not in columns:
            raise InvalidArgument(
                f"insert error at record {index}: unknown column {key!r} in table '{table}'"
            )
    return list(record)
