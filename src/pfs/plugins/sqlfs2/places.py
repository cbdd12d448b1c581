"""The path grammar of sqlfs2: what a mount-relative path names.

    /                      root            /ctl             root ctl (read: a new session)
    /README                the plugin's documentation
    /<db>                  database        /<db>/ctl        database ctl
    /<db>/<t>              table           /<db>/<t>/ctl    table ctl
    /<db>/<t>/schema       CREATE text     /<db>/<t>/count  row count
    /<db>/<t>/query        the original's query view (write SQL, the answer holds the rows)
    /<db>/<t>/execute      the original's execute view
    [/<db>[/<t>]]/<sid>    a session directory, bound to the scope it was made in
    …/<sid>/<file>         ctl, query, result, error (and data in table sessions)

An all-digit component where a session may stand is a session id; database and table names
must be SQL identifiers (they never are all digits), so the two never meet. A database or table
named ``ctl`` is out of reach (as in AGFS), and so is a database named ``README``: ``/README``
is the plugin's documentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pfs.fs import InvalidArgument, NotFound

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
SESSION_FILES = ("ctl", "query", "result", "error")
TABLE_FILES = ("ctl", "schema", "count", "query", "execute")


def check_identifier(kind: str, name: str) -> str:
    """``name`` when it is a plain SQL identifier, else InvalidArgument (AGFS's wording)."""
    if not _IDENTIFIER.fullmatch(name):
        raise InvalidArgument(
            f"invalid argument {kind}={name}: invalid SQL {kind} identifier {name!r}: "
            "must match [A-Za-z_][A-Za-z0-9_]* (at most 64 characters)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Place:
    """What a path names: a scope (database and table, each optional), and in it a session
    and/or a file."""

    db: str | None = None
    table: str | None = None
    session: int | None = None
    file: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.file is None

    @property
    def scope(self) -> tuple[str | None, str | None]:
        return self.db, self.table


def parse(path: str) -> Place:
    """The :class:`Place` of a mount-relative path.

    Raises:
        InvalidArgument: a database or table name that is not an identifier.
        NotFound: anything else the grammar has no place for.
    """
    parts = [p for p in path.split("/") if p]
    if parts == ["README"]:
        return Place(file="README")
    db = table = None
    rest = parts
    # Up to two scope components (database, table), each unless it is a session or a file.
    for level in ("database", "table"):
        if not rest or rest[0].isdigit() or rest[0] == "ctl":
            break
        name = check_identifier(level, rest[0])
        if level == "database":
            db = name
        else:
            table = name
        rest = rest[1:]
    if not rest:
        return Place(db, table)
    head, tail = rest[0], rest[1:]
    if head.isdigit():
        if not tail:
            return Place(db, table, int(head))
        if len(tail) == 1 and (tail[0] in SESSION_FILES or (tail[0] == "data" and table)):
            return Place(db, table, int(head), tail[0])
        raise NotFound(f"not found: {path}")
    if tail:
        raise NotFound(f"not found: {path}")
    if head == "ctl" or (table is not None and head in TABLE_FILES):
        return Place(db, table, None, head)
    raise NotFound(f"not found: {path}")
