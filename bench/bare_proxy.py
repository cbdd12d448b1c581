"""The proxyfs ceiling: the thinnest ASGI app that answers each request with a GET to a remote
over proxyfs's own HTTP/1.1 pool (``REMOTE``: base URL, ``REMOTE_PATH``: what to fetch).

Whatever proxyfs does on top (mount table, paths, errors) is not here, so its rate is the most
any proxy built this way can do on this machine.
"""

from __future__ import annotations

import os

from pfs.http import client as http1

REMOTE = os.environ["REMOTE"]
REMOTE_PATH = os.environ.get("REMOTE_PATH", "/")
_pools: list[http1.Pool] = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if not _pools:
        _pools.append(http1.Pool(REMOTE))
    response = await _pools[0].request("GET", REMOTE_PATH, timeout=10)
    body = await response.read(10)
    await send({"type": "http.response.start", "status": response.status,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
