"""Shared pieces of the queuefs tests: backend configs, a MariaDB fixture, small HTTP helpers."""

from __future__ import annotations

import os

import httpx
import orjson
import pytest

from pfs.testing.mariadb import MariaDB

MARIADB = MariaDB()
BACKENDS = ("memory", "sqlite", "mysql")


def require_mariadb() -> None:
    """Skip (fail under CI=true) when the MariaDB server is not reachable."""
    problem = MARIADB.reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def queuefs_config(backend: str, tmp_path, database: str | None, **extra) -> dict:
    if backend == "sqlite":
        config = {"backend": "sqlite", "db_path": str(tmp_path / "queue.db")}
    elif backend == "mysql":
        config = {"backend": "mysql", **MARIADB.config(database)}
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
