"""Connection settings of the Redis and NATS back ends, read from a validated plugin config.

The SQL keys ``host``, ``port``, ``password``, ``enable_tls``, ``tls_skip_verify``,
``connect_timeout`` and ``query_timeout`` mean the same here (``port`` defaults to 6379 for
redis and 4222 for nats); ``url`` wins over ``host``/``port`` and may carry ``user:password@``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pfs.fs.config import Field
from pfs.fs.errors import InvalidArgument

#: Back-end names served by this package, with the port each listens on by default.
DEFAULT_PORTS = {"redis": 6379, "nats": 4222}
ENGINE_BACKENDS = tuple(DEFAULT_PORTS)

ENGINE_CONFIG_FIELDS: tuple[Field, ...] = (
    Field(
        "url",
        "string",
        help="redis/nats: server URL (redis://[user:password@]host:port/db, rediss:// for TLS; "
        "nats://[user:password@]host:port, tls:// for TLS, several comma-separated)",
    ),
    Field(
        "key_prefix",
        "string",
        help="redis/nats: prefix of every key, stream and bucket of this mount (mounts naming "
        "the same prefix share their data)",
    ),
    Field("token", "string", help="nats: authentication token"),
    Field("creds_file", "string", help="nats: credentials file (JWT and NKey seed)"),
    Field("tls_ca_file", "string", help="redis/nats: CA bundle that signs the server certificate"),
)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Where and how to reach one Redis or NATS server (``kind``)."""

    kind: str
    url: str
    address: str
    prefix: str
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    creds_file: str = ""
    tls: bool = False
    tls_ca_file: str = ""
    tls_skip_verify: bool = False
    connect_timeout: float = 5.0
    query_timeout: float = 10.0

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this server, or None when TLS is off."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.tls_ca_file or None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


def engine_options(kind: str, config: dict[str, Any], default_prefix: str) -> EngineOptions:
    """The settings of back end ``kind`` (redis or nats) from a validated plugin config."""
    url = config.get("url") or ""
    if not url:
        host = config.get("host") or "127.0.0.1"
        port = int(config.get("port") or DEFAULT_PORTS[kind])
        url = f"{kind}://{host}:{port}"
    first = urlsplit(url.split(",")[0].strip())
    schemes = {"redis": ("redis", "rediss"), "nats": ("nats", "tls")}[kind]
    if first.scheme not in schemes:
        raise InvalidArgument(
            f"invalid url for the {kind} backend: {first.scheme or 'no'} scheme "
            f"(use {' or '.join(s + '://' for s in schemes)})"
        )
    try:
        port = first.port or DEFAULT_PORTS[kind]
    except ValueError:
        raise InvalidArgument(f"invalid url for the {kind} backend: bad port") from None
    return EngineOptions(
        kind=kind,
        url=url,
        address=f"{first.hostname or '127.0.0.1'}:{port}",
        prefix=config.get("key_prefix") or default_prefix,
        password=config.get("password") or "",
        token=config.get("token") or "",
        creds_file=config.get("creds_file") or "",
        tls=bool(config.get("enable_tls")) or first.scheme in ("rediss", "tls"),
        tls_ca_file=config.get("tls_ca_file") or "",
        tls_skip_verify=bool(config.get("tls_skip_verify")),
        connect_timeout=float(config.get("connect_timeout") or 5.0),
        query_timeout=float(config.get("query_timeout") or 10.0),
    )
