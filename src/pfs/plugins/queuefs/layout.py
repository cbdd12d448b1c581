"""Which table layout a SQL queue database uses: ours (``pfs``) or AGFS's (``agfs``).

``layout: auto`` (the default) looks at the database when the mount starts: AGFS's registry
table alone means AGFS's layout, anything else (a new database included) means ours. A
database holding both is refused: the mount must say which one it wants.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

from pfs.engines import engine_options
from pfs.fs import Field, InvalidArgument
from pfs.plugins.queuefs.agfs import REGISTRY
from pfs.plugins.queuefs.agfs_mysql import AgfsMySQLBackend
from pfs.plugins.queuefs.agfs_sqlite import AgfsSQLiteBackend
from pfs.plugins.queuefs.backend import QueueBackend
from pfs.plugins.queuefs.memory import MemoryBackend
from pfs.plugins.queuefs.mysql import MySQLBackend
from pfs.plugins.queuefs.postgres import PostgresBackend
from pfs.plugins.queuefs.sqlite import SQLiteBackend
from pfs.sql import POSTGRES_BACKENDS, MySQLDatabase, MySQLOptions, as_text, choose_backend

LAYOUTS = ("auto", "pfs", "agfs")
#: Back ends that are not SQL databases: they only have our layout. Their modules import their
#: client library lazily, so a server without the extra still loads queuefs.
ENGINES = {
    "redis": lambda config: _engine("redis", config),
    "nats": lambda config: _engine("nats", config),
}
#: The tables of our layout, any one of which marks a database as ours.
_PFS_TABLES = ("queuefs_queues", "queuefs_messages")

LAYOUT_FIELD = Field(
    "layout",
    "string",
    default="auto",
    choices=LAYOUTS,
    help="SQL table layout: pfs (ours), agfs (AGFS's registry + table per queue), auto (detect)",
)


def build(backend: str, layout: str, config: dict[str, Any]) -> QueueBackend:
    """The back end for ``backend`` in ``layout`` (``pfs`` or ``agfs``)."""
    agfs = layout == "agfs"
    if agfs and backend in POSTGRES_BACKENDS:
        raise InvalidArgument("queuefs: layout agfs needs a sqlite or mysql backend")
    return choose_backend(
        backend,
        config,
        memory=MemoryBackend,
        engines=ENGINES,
        sqlite=AgfsSQLiteBackend if agfs else SQLiteBackend,
        mysql=AgfsMySQLBackend if agfs else MySQLBackend,
        postgres=PostgresBackend,
        sqlite_file="queue.db",
        database="queuedb",
    )


async def detect(backend: str, config: dict[str, Any]) -> str:
    """``pfs`` or ``agfs``: the layout the configured database already has (``pfs`` when it
    has neither).

    Raises:
        InvalidArgument: the database has the tables of both layouts.
    """
    if backend in POSTGRES_BACKENDS:
        return "pfs"  # AGFS never stored queues in PostgreSQL
    found: set[str] = await choose_backend(
        backend,
        config,
        sqlite=lambda path: asyncio.to_thread(_sqlite_tables, path),
        mysql=_mysql_tables,
        sqlite_file="queue.db",
        database="queuedb",
    )
    agfs, pfs = REGISTRY in found, bool(found & set(_PFS_TABLES))
    if agfs and pfs:
        raise InvalidArgument(
            f"queuefs: the database holds both queue layouts ({REGISTRY} and "
            f"{', '.join(_PFS_TABLES)}): set layout to pfs or agfs"
        )
    return "agfs" if agfs else "pfs"


def _sqlite_tables(path: str) -> set[str]:
    if not os.path.isfile(path):
        return set()  # a new database: opening it for real creates it, with the layout chosen
    conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError:
        return set()  # not a database: the back end's own open says so, naming the file
    finally:
        conn.close()
    return {row[0] for row in rows}


async def _mysql_tables(options: MySQLOptions) -> set[str]:
    db = MySQLDatabase(options)
    await db.open()
    try:
        rows = await db.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
    finally:
        await db.close()
    return {as_text(row[0]) for row in rows}


def _engine(kind: str, config: dict[str, Any]) -> QueueBackend:
    if kind == "redis":
        from pfs.plugins.queuefs.redis import RedisBackend

        return RedisBackend(engine_options("redis", config, "pfs:queuefs:"))
    from pfs.plugins.queuefs.nats import NATSBackend

    return NATSBackend(engine_options("nats", config, "pfs_queuefs"), config)
