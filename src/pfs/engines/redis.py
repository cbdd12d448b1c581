"""Open a Redis client (redis-py's asyncio API) from :class:`~pfs.engines.options.EngineOptions`.

Commands are never retried by the client: a script that ran but whose reply was lost must not
run twice (an enqueue would be duplicated). Connections come from a blocking pool (waiting
for one counts against the call's deadline) and each socket read is bounded by
``query_timeout``.
"""

from __future__ import annotations

import logging
from typing import Any

from pfs.engines.errors import engine_call
from pfs.engines.options import EngineOptions
from pfs.extras import install_hint
from pfs.fs.errors import NotSupported

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
except ImportError:  # reported when a redis back end is mounted
    aioredis = None  # type: ignore[assignment]

log = logging.getLogger("pfs.engines.redis")

#: Most connections one back end holds open to the server.
MAX_CONNECTIONS = 64


async def open_redis(options: EngineOptions) -> Any:
    """A connected client (pinged), or Unavailable/Timeout naming ``host:port``."""
    if aioredis is None:
        raise NotSupported(f"the redis backend needs the redis extra: {install_hint('redis')}")
    kwargs: dict[str, Any] = {
        "socket_connect_timeout": options.connect_timeout,
        "socket_timeout": options.query_timeout,
        "max_connections": MAX_CONNECTIONS,
        "timeout": options.query_timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    if options.password:
        kwargs["password"] = options.password
    if options.tls:
        kwargs["connection_class"] = aioredis.SSLConnection
        kwargs["ssl_ca_certs"] = options.tls_ca_file or None
        if options.tls_skip_verify:
            kwargs["ssl_cert_reqs"] = "none"
            kwargs["ssl_check_hostname"] = False
    url = options.url.replace("rediss://", "redis://", 1) if options.tls else options.url
    pool = aioredis.BlockingConnectionPool.from_url(url, **kwargs)
    client = aioredis.Redis(connection_pool=pool)
    try:
        async with engine_call(options):
            await client.ping()
    except BaseException:
        await client.aclose()
        await pool.aclose()
        raise
    log.info("redis: connected to %s", options.address)
    return client


async def close_redis(client: Any) -> None:
    await client.aclose()
    await client.connection_pool.aclose()
