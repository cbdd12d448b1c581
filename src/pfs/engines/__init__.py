"""Shared plumbing for plugins with Redis and NATS JetStream back ends (queuefs, kvfs).

* :mod:`pfs.engines.options` — the config keys these back ends add (:data:`ENGINE_CONFIG_FIELDS`:
  ``url``, ``key_prefix``, ``token``, ``creds_file``, ``tls_ca_file``) next to the SQL ones they
  share (``host``, ``port``, ``password``, ``enable_tls``, the timeouts), read into
  :class:`EngineOptions`.
* :mod:`pfs.engines.errors` — :func:`engine_call`: one call bounded by ``query_timeout`` (504
  past it) with driver errors turned into PFS errors (a server that is down is 503 naming
  ``host:port``), as :mod:`pfs.sql.errors` does for SQL.
* :mod:`pfs.engines.redis` / :mod:`pfs.engines.nats` — open a client from :class:`EngineOptions`
  (redis-py's asyncio client; the official nats-py client with JetStream).
"""

from __future__ import annotations

from pfs.engines.errors import engine_call
from pfs.engines.options import ENGINE_BACKENDS, ENGINE_CONFIG_FIELDS, EngineOptions, engine_options

__all__ = [
    "ENGINE_BACKENDS",
    "ENGINE_CONFIG_FIELDS",
    "EngineOptions",
    "engine_call",
    "engine_options",
]
