"""Shared SQL plumbing for plugins with SQLite and MySQL/TiDB back ends (queuefs, kvfs, sqlfs).

* :mod:`pfs.sql.options` — the shared config keys (:data:`SQL_CONFIG_FIELDS`), DSN parsing
  (Go ``user:pass@tcp(host:port)/db?tls=true`` and ``mysql://`` URLs) and TLS settings.
* :mod:`pfs.sql.sqlite` — :class:`SQLiteDatabase`: WAL, group-committed writes; short statements
  on the event loop, ``large`` ones (and :meth:`~SQLiteDatabase.scan` reads) on worker threads.
* :mod:`pfs.sql.mysql` — :class:`MySQLDatabase`: asyncmy pool, retried transactions.
* :mod:`pfs.sql.postgres` — :class:`~pfs.sql.postgres.PostgresDatabase`: asyncpg pool, retried
  transactions, its own error translation, and a ``LISTEN`` connection (``Listener``).
* :mod:`pfs.sql.errors` — driver errors → PFS errors (an unreachable server is ``Unavailable``,
  503, naming ``host:port``).
* :mod:`pfs.sql.backends` — the ``backend`` config key and :func:`choose_backend`, which builds
  the back end a config asks for (tidb's default port is 4000, mysql's 3306).
* :mod:`pfs.sql.text` — :func:`as_text` for text columns MySQL returns as bytes, ``LIKE``
  escaping (:func:`escape_like`, :func:`like_below`).

A plugin with SQL back ends is a package of the same shape each time (queuefs, kvfs, sqlfs):
``plugin.py`` the FileSystem, ``backend.py`` the abstract back end (``QueueBackend``,
``KVBackend``, ``SQLFSBackend``), ``memory.py`` where there is one, ``sqlite.py`` and ``mysql.py``
(each a ``SQLiteBackend`` / ``MySQLBackend`` holding a :class:`SQLiteDatabase` /
:class:`MySQLDatabase`). The plugin picks one::

    config_schema = (backend_field("where pairs live"), *SQL_CONFIG_FIELDS)

    def __init__(self, config):
        super().__init__(config)
        self.backend = choose_backend(
            config["backend"], config,
            memory=MemoryBackend, sqlite=SQLiteBackend, mysql=MySQLBackend,
            sqlite_file="kvfs.db", database="kvdb",
        )
"""

from __future__ import annotations

from pfs.sql.backends import DEFAULT_PORTS, backend_field, backend_is_shared, choose_backend
from pfs.sql.errors import (
    mysql_errors,
    mysql_is_unreachable,
    sqlite_errors,
    translate_mysql_error,
    translate_sqlite_error,
)
from pfs.sql.mysql import MySQLDatabase, check_identifier
from pfs.sql.options import (
    MYSQL_BACKENDS,
    POSTGRES_BACKENDS,
    SQL_CONFIG_FIELDS,
    SQLITE_BACKENDS,
    MySQLOptions,
    mysql_options,
    parse_mysql_dsn,
    sqlite_path,
)
from pfs.sql.sqlite import SQLiteDatabase
from pfs.sql.text import as_text, escape_like, like_below

__all__ = [
    "DEFAULT_PORTS",
    "MYSQL_BACKENDS",
    "POSTGRES_BACKENDS",
    "SQLITE_BACKENDS",
    "SQL_CONFIG_FIELDS",
    "MySQLDatabase",
    "MySQLOptions",
    "SQLiteDatabase",
    "as_text",
    "backend_field",
    "backend_is_shared",
    "check_identifier",
    "choose_backend",
    "escape_like",
    "like_below",
    "mysql_errors",
    "mysql_is_unreachable",
    "mysql_options",
    "parse_mysql_dsn",
    "sqlite_errors",
    "sqlite_path",
    "translate_mysql_error",
    "translate_sqlite_error",
]
