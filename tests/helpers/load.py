"""Load from a test: one pooled keep-alive client (``pfs.http.client``) per task, because httpx's
async pool costs several milliseconds per request when dozens of tasks share it on a busy 2-core
machine, and the client must not be the bottleneck."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

from pfs.http import client as http1


def files_target(path: str) -> str:
    """The request target of ``/api/v1/files`` for ``path``."""
    return "/api/v1/files?path=" + quote(path, safe="/")


@contextlib.asynccontextmanager
async def connection(base_url: str) -> AsyncIterator[http1.Pool]:
    """One keep-alive connection to the server at ``base_url`` (its path is ignored)."""
    pool = http1.Pool(base_url, limit=1)
    try:
        yield pool
    finally:
        await pool.aclose()


async def request(
    pool: http1.Pool, method: str, target: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """(status, body) of one request."""
    response = await pool.request(method, target, body=body)
    return response.status, await response.read()
