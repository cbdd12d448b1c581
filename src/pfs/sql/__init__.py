"""Shared SQL plumbing for plugins with SQLite and MySQL/TiDB back ends (queuefs, kvfs, sqlfs).

* :mod:`pfs.sql.options` — the shared config keys (:data:`SQL_CONFIG_FIELDS`), DSN parsing
  (Go ``user:pass@tcp(host:port)/db?tls=true`` and ``mysql://`` URLs) and TLS settings.
* :mod:`pfs.sql.sqlite` — :class:`SQLiteDatabase`: WAL, group-committed writes; short statements
  on the event loop, ``large`` ones (and :meth:`~SQLiteDatabase.scan` reads) on worker threads.
* :mod:`pfs.sql.mysql` — :class:`MySQLDatabase`: asyncmy pool, retried transactions.
* :mod:`pfs.sql.errors` — driver errors → PFS errors (an unreachable server is ``Unavailable``,
  503, naming ``host:port``).

Typical use in a plugin::

    config_schema = (Field("backend", "string", default="memory"), *SQL_CONFIG_FIELDS)

    async def start(self):
        if self.config["backend"] in MYSQL_BACKENDS:
            self.db = MySQLDatabase(mysql_options(self.config, default_database="kvdb"))
        else:
            self.db = SQLiteDatabase(sqlite_path(self.config, default="kv.db"))
        await self.db.open()
"""

from __future__ import annotations

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
    SQL_CONFIG_FIELDS,
    SQLITE_BACKENDS,
    MySQLOptions,
    mysql_options,
    parse_mysql_dsn,
    sqlite_path,
)
from pfs.sql.sqlite import SQLiteDatabase

__all__ = [
    "MYSQL_BACKENDS",
    "SQLITE_BACKENDS",
    "SQL_CONFIG_FIELDS",
    "MySQLDatabase",
    "MySQLOptions",
    "SQLiteDatabase",
    "check_identifier",
    "mysql_errors",
    "mysql_is_unreachable",
    "mysql_options",
    "parse_mysql_dsn",
    "sqlite_errors",
    "sqlite_path",
    "translate_mysql_error",
    "translate_sqlite_error",
]
