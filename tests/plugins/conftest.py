"""Fixtures shared by the plugin tests: throw-away MariaDB and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import pytest

MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def _mysql_reachable() -> bool:
    try:
        socket.create_connection((MYSQL["host"], MYSQL["port"]), timeout=2).close()
        return True
    except OSError:
        return False


def _drop_database(name: str) -> None:
    import asyncmy

    async def drop() -> None:
        conn = await asyncmy.connect(**MYSQL)
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    asyncio.run(drop())


@pytest.fixture(scope="module")
def mysql_database_factory():
    """``make()`` → a fresh database name on the local MariaDB; all dropped after the module.

    Skips when MariaDB is unreachable, except under CI=true where that is a failure.
    """
    if not _mysql_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB on 127.0.0.1:3306 is required in CI")
        pytest.skip("MariaDB on 127.0.0.1:3306 is not reachable")
    made: list[str] = []

    def make() -> str:
        name = f"pfs_test_{uuid.uuid4().hex[:10]}"
        made.append(name)
        return name

    yield make
    for name in made:
        _drop_database(name)


@pytest.fixture(scope="module")
def postgres_database_factory():
    """``make()`` → a fresh database name on the local PostgreSQL (the backend creates it); all
    dropped after the module. Skips when unreachable, except under CI=true."""
    from pfs.testing.postgres import Postgres

    server = Postgres()
    problem = server.reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    made: list[str] = []

    def make() -> str:
        name = f"pfs_test_{uuid.uuid4().hex[:10]}"
        made.append(name)
        return name

    yield make
    for name in made:
        server.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
