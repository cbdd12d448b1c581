"""What sqlfs needs from a SQL back end: reads, atomic groups of statements, and its dialect.

The tables (the original's ``files`` plus ``file_chunks`` for large contents)::

    files(path PK, is_dir, mode, size, mod_time, data, blob_id, version)
    file_chunks(blob_id, start, data)            PK (blob_id, start)

A file up to ``chunk_size`` bytes keeps its bytes in ``files.data`` (as the original does). A
larger one has ``data`` NULL and ``blob_id`` naming its chunks; ``start`` is each chunk's byte
offset. New content is staged under a fresh ``blob_id`` and swapped in by one transaction, so a
failed or interrupted write leaves the old content. ``version`` is new with every write of the
content (``mod_time`` has whole seconds): the ETag includes it, and a conditional write swaps
only if it is still the one checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Statement = tuple[str, Sequence[Any]]
Check = Callable[[list[int]], None]

#: Default chunk (and largest inline) size: far below MySQL's max_allowed_packet.
DEFAULT_CHUNK_SIZE = 1 << 20


class SQLFSBackend:
    """A SQL back end of sqlfs. SQL is written with ``?`` placeholders."""

    #: ``Type`` shown in stat's meta (``sqlite3`` or ``mysql``).
    kind = ""
    chunk_size = DEFAULT_CHUNK_SIZE
    #: Insert a file row or replace its content (keeping its mode); args
    #: (path, mode, size, mod_time, data, blob_id, version).
    upsert_file_sql = ""
    #: ``UPDATE files SET path = <new prefix> || tail`` for rename; args (new, len(old)+1, pattern).
    move_subtree_sql = ""

    async def start(self) -> None:
        """Connect and create the tables."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def query(self, sql: str, args: Sequence[Any] = (), large: bool = False) -> list[tuple]:
        """Rows of one read-only statement. ``large``: its cost has no bound (a listing, a
        subtree, a chunk), so a back end that runs statements on the event loop runs it off."""
        raise NotImplementedError

    async def atomic(
        self, statements: Sequence[Statement], check: Check | None = None, large: bool = False
    ) -> list[int]:
        """Run ``statements`` in one transaction; ``check(rowcounts)`` may raise to roll back.
        ``large`` as for :meth:`query`."""
        raise NotImplementedError
