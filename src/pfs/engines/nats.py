"""Open a NATS connection with JetStream (the official nats-py client) from
:class:`~pfs.engines.options.EngineOptions`.

The client reconnects in the background for as long as the back end is mounted; while it has
no connection every call fails at once with 503 (see :func:`~pfs.engines.errors.engine_call`'s
``connected``) instead of queueing into the client's reconnect buffer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pfs.engines.errors import engine_call
from pfs.engines.options import EngineOptions
from pfs.extras import install_hint
from pfs.fs.errors import InvalidArgument, NotSupported

try:
    import nats
except ImportError:  # reported when a nats back end is mounted
    nats = None  # type: ignore[assignment]

log = logging.getLogger("pfs.engines.nats")

#: Stream and bucket names are built from the prefix: letters, digits, ``_`` and ``-`` only.
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_prefix(prefix: str) -> str:
    if not _PREFIX_RE.match(prefix):
        raise InvalidArgument(
            f"invalid key_prefix {prefix!r} for the nats backend: use letters, digits, _ and - "
            "(at most 64 characters)"
        )
    return prefix


async def open_nats(options: EngineOptions) -> tuple[Any, Any]:
    """(connection, JetStream context), connected and JetStream checked, or
    Unavailable/Timeout naming ``host:port``."""
    if nats is None:
        raise NotSupported(f"the nats backend needs the nats extra: {install_hint('nats')}")
    check_prefix(options.prefix)

    async def error_cb(exc: Exception) -> None:
        log.warning("nats: %s: %s", options.address, exc)

    async def disconnected_cb() -> None:
        if nc is not None and not nc.is_closed:  # not our own close
            log.warning("nats: lost the connection to %s, reconnecting", options.address)

    async def reconnected_cb() -> None:
        log.info("nats: reconnected to %s", options.address)

    kwargs: dict[str, Any] = {
        "servers": [url.strip() for url in options.url.split(",") if url.strip()],
        "connect_timeout": options.connect_timeout,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "error_cb": error_cb,
        "disconnected_cb": disconnected_cb,
        "reconnected_cb": reconnected_cb,
    }
    if options.token:
        kwargs["token"] = options.token
    if options.creds_file:
        kwargs["user_credentials"] = options.creds_file
    if options.password and "@" not in options.url:
        kwargs["password"] = options.password
    tls = options.ssl_context()
    if tls is not None:
        kwargs["tls"] = tls
    nc = None
    try:
        async with engine_call(options):
            # The first connection is not retried: a server that is down fails the mount.
            probe = await nats.connect(
                **{**kwargs, "allow_reconnect": False, "disconnected_cb": None}
            )
            await probe.close()
            nc = await nats.connect(**kwargs)
            js = nc.jetstream(timeout=options.query_timeout)
            await js.account_info()
    except BaseException:
        if nc is not None:
            await nc.close()
        raise
    log.info("nats: connected to %s", options.address)
    return nc, js
