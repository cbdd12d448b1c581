"""The PostgreSQL server tests share (127.0.0.1:5432, trust auth, by default) and throw-away
databases on it. ``PFS_TEST_POSTGRES_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD`` point the
tests elsewhere. :class:`pfs.testing.mariadb.TcpRelay` cuts and freezes the way to it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Postgres:
    host: str = os.environ.get("PFS_TEST_POSTGRES_HOST", "127.0.0.1")
    port: int = int(os.environ.get("PFS_TEST_POSTGRES_PORT", "5432"))
    user: str = os.environ.get("PFS_TEST_POSTGRES_USER", "postgres")
    password: str = os.environ.get("PFS_TEST_POSTGRES_PASSWORD", "")

    def config(self, database: str, **extra: object) -> dict[str, object]:
        """Plugin config keys of a postgres backend on ``database`` of this server."""
        return {
            "backend": "postgres",
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": database,
            **extra,
        }

    def run(self, sql: str, database: str = "postgres") -> list[tuple]:
        """Run one statement on ``database`` and return its rows."""
        import asyncpg

        async def go() -> list[tuple]:
            conn = await asyncpg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                database=database,
                timeout=5,
            )
            try:
                return [tuple(row) for row in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(go())

    def reachable(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            self.run("SELECT 1")
        except Exception as exc:  # any failure means "cannot use it"
            return f"PostgreSQL at {self.host}:{self.port} unreachable: {exc}"
        return None

    @contextmanager
    def scratch_database(self, prefix: str = "pfs_test") -> Iterator[str]:
        """A database name unique to this run (the backend creates it); dropped on exit."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        try:
            yield name
        finally:
            self.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
