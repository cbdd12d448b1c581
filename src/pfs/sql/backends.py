"""Which back end a plugin runs on: the ``backend`` config key and the choice it makes.

A plugin names its back-end classes once; :func:`choose_backend` builds the one its config asks
for, with the settings :mod:`pfs.sql.options` reads (the SQLite file, or MySQL options whose
default port follows the server kind: 3306 for mysql, 4000 for tidb).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pfs.fs.config import Field
from pfs.fs.errors import InvalidArgument
from pfs.sql.options import (
    MYSQL_BACKENDS,
    POSTGRES_BACKENDS,
    SQLITE_BACKENDS,
    MySQLOptions,
    mysql_options,
    sqlite_path,
)
from pfs.sql.postgres import postgres_options

Backend = TypeVar("Backend")

#: The port a MySQL-compatible server listens on unless the config says otherwise.
DEFAULT_PORTS = {"mysql": 3306, "tidb": 4000}
#: SQL back-end names in the order error messages list them.
_SQL_NAMES = (*SQLITE_BACKENDS, "tidb", "mysql", *POSTGRES_BACKENDS)


def backend_is_shared(name: str) -> bool:
    """Whether back end ``name`` keeps its data in a server that other PFS servers can reach
    (mysql, tidb, postgres, …) rather than in this process (memory) or a local file (sqlite)."""
    return name not in ("memory", *SQLITE_BACKENDS)


def backend_field(help: str, engines: tuple[str, ...] = ()) -> Field:
    """The ``backend`` config key of a plugin with a memory back end, SQL ones and the other
    ``engines`` it offers (redis, nats)."""
    return Field(
        "backend",
        "string",
        default="memory",
        choices=("memory", *SQLITE_BACKENDS, *MYSQL_BACKENDS, *POSTGRES_BACKENDS, *engines),
        help=help,
    )


def choose_backend(
    name: str,
    config: dict[str, Any],
    *,
    sqlite: Callable[[str], Backend],
    mysql: Callable[[MySQLOptions], Backend],
    postgres: Callable[[MySQLOptions], Backend] | None = None,
    memory: Callable[[], Backend] | None = None,
    engines: dict[str, Callable[[dict[str, Any]], Backend]] | None = None,
    sqlite_file: str,
    database: str,
) -> Backend:
    """The back end ``name`` built from a validated plugin ``config``.

    ``sqlite(path)`` for sqlite/sqlite3 (``db_path``, else ``sqlite_file``), ``mysql(options)``
    for mysql/tidb (``database`` unless the config names one), ``postgres(options)`` for
    postgres (the same keys, port 5432, ``dsn`` a ``postgresql://`` URL), ``memory()`` for memory.

    Raises:
        InvalidArgument: ``name`` is none of those the plugin offers.
    """
    if name in SQLITE_BACKENDS:
        return sqlite(sqlite_path(config, sqlite_file))
    if name in MYSQL_BACKENDS:
        return mysql(mysql_options(config, database, DEFAULT_PORTS[name]))
    if name in POSTGRES_BACKENDS and postgres is not None:
        return postgres(postgres_options(config, database))
    if name == "memory" and memory is not None:
        return memory()
    if engines and name in engines:
        return engines[name](config)
    names = _SQL_NAMES if postgres is not None else _SQL_NAMES[: -len(POSTGRES_BACKENDS)]
    offered = ("memory", *names) if memory is not None else names
    offered = (*offered, *(engines or ()))
    raise InvalidArgument(
        f"unsupported database backend: {name} (valid options: {', '.join(offered)})"
    )
