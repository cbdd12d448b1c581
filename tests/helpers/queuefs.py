"""Shared pieces of the queuefs tests: backend configs, a MariaDB fixture, small HTTP helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest

from pfs.testing.engines import ENGINES
from pfs.testing.mariadb import MariaDB
from pfs.testing.postgres import Postgres

MARIADB = MariaDB()
POSTGRES = Postgres()
BACKENDS = ("memory", "sqlite", "mysql", "postgres", "redis", "nats")


def require_mariadb() -> None:
    """Skip (fail under CI=true) when the MariaDB server is not reachable."""
    problem = MARIADB.reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def require_postgres() -> None:
    """Skip (fail under CI=true) when the PostgreSQL server is not reachable."""
    problem = POSTGRES.reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def require_engine(kind: str) -> None:
    """Skip (fail under CI=true) when the Redis or NATS server is not reachable."""
    problem = ENGINES[kind].reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


@contextmanager
def scratch_database(backend: str, prefix: str) -> Iterator[str | None]:
    """A throw-away database for a mysql or postgres ``backend``, a key prefix for redis and
    nats (None for the others), dropped with what it holds on exit."""
    if backend == "mysql":
        require_mariadb()
        with MARIADB.scratch_database(prefix) as database:
            yield database
    elif backend == "postgres":
        require_postgres()
        with POSTGRES.scratch_database(prefix) as database:
            yield database
    elif backend in ENGINES:
        require_engine(backend)
        with ENGINES[backend].scratch_prefix() as key_prefix:
            yield key_prefix
    else:
        yield None


def queuefs_config(backend: str, tmp_path, database: str | None, **extra) -> dict:
    """A queuefs config on ``backend``; for redis and nats ``database`` is the key prefix (a
    new scratch one when None: tests/conftest.py removes those when the session ends)."""
    if backend in ENGINES:
        engine = ENGINES[backend]
        if database is None:
            require_engine(backend)
            database = engine.new_prefix()
        return {**engine.config(database), **extra}
    if backend == "sqlite":
        config = {"backend": "sqlite", "db_path": str(tmp_path / "queue.db")}
    elif backend == "mysql":
        config = {"backend": "mysql", **MARIADB.config(database)}
    elif backend == "postgres":
        config = POSTGRES.config(database)
    else:
        config = {"backend": "memory"}
    return {**config, **extra}


def server_config(queue_config: dict, path: str = "/queuefs") -> dict:
    return {"plugins": {"queuefs": {"enabled": True, "path": path, "config": queue_config}}}


def enqueue(client: httpx.Client, queue: str, data: bytes) -> str:
    r = client.put("/files", params={"path": f"/queuefs/{queue}/enqueue"}, content=data)
    assert r.status_code == 200, r.text
    return r.json()["message"]


def read(client: httpx.Client, path: str) -> httpx.Response:
    return client.get("/files", params={"path": path})


def dequeue(client: httpx.Client, queue: str) -> dict:
    r = read(client, f"/queuefs/{queue}/dequeue")
    assert r.status_code == 200, r.text
    return orjson.loads(r.content)


def size(client: httpx.Client, queue: str) -> int:
    r = read(client, f"/queuefs/{queue}/size")
    assert r.status_code == 200, r.text
    return int(r.text)
