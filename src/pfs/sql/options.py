"""Connection settings for SQL back ends: the config keys plugins share, and DSN parsing.

A plugin that stores data in SQL adds :data:`SQL_CONFIG_FIELDS` to its ``config_schema``;
:func:`pfs.sql.backends.choose_backend` reads its validated config with :func:`mysql_options` /
:func:`sqlite_path`. DSNs are accepted in the Go driver's form
``user:pass@tcp(host:port)/db?tls=true`` (what the original's configs hold) and as URLs
``mysql://user:pass@host:port/db?tls=true``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pfs.fs.config import Field
from pfs.fs.errors import InvalidArgument

#: Backend names accepted by SQL-capable plugins; ``tidb`` and ``sqlite3`` are aliases.
MYSQL_BACKENDS = ("mysql", "tidb")
SQLITE_BACKENDS = ("sqlite", "sqlite3")
POSTGRES_BACKENDS = ("postgres",)

#: Config keys shared by every plugin with SQL back ends (add them to ``config_schema``).
SQL_CONFIG_FIELDS: tuple[Field, ...] = (
    Field("db_path", "string", help="sqlite: database file (created if missing)"),
    Field(
        "dsn",
        "string",
        help="mysql/tidb: full DSN, user:pass@tcp(host:port)/db?tls=true; postgres: "
        "postgresql://user:pass@host:port/db?sslmode=require",
    ),
    Field("host", "string", default="127.0.0.1", help="mysql/tidb/postgres host"),
    Field(
        "port",
        "port",
        help="mysql/tidb/postgres port (default 3306 for mysql, 4000 for tidb, 5432 for postgres)",
    ),
    Field("user", "string", default="root", help="mysql/tidb/postgres user"),
    Field("password", "string", default="", help="mysql/tidb/postgres password"),
    Field("database", "string", help="mysql/tidb/postgres database (created if missing)"),
    Field("enable_tls", "bool", default=False, help="mysql/tidb/postgres: TLS 1.2+"),
    Field("tls_server_name", "string", help="name checked in the server certificate"),
    Field("tls_skip_verify", "bool", default=False, help="do not verify the certificate"),
    Field(
        "connect_timeout",
        "number",
        default=5,
        min=0.1,
        max=300,
        help="mysql/tidb/postgres: seconds to open a connection (TCP, TLS and login)",
    ),
    Field(
        "query_timeout",
        "number",
        default=10,
        min=0.1,
        max=3600,
        help="mysql/tidb/postgres: seconds a statement or transaction may take, waiting for a "
        "pooled connection included; then the request fails with 504",
    ),
)


@dataclass(frozen=True, slots=True)
class MySQLOptions:
    """Where and how to connect to MySQL/MariaDB/TiDB.

    ``tls_server_name`` is the name checked in the certificate (default: ``host``).
    ``params`` keeps the DSN's other query parameters (``charset``, ``parseTime``...) for callers.
    ``connect_timeout`` bounds opening a connection, ``query_timeout`` one statement or
    transaction (seconds): a database that stops answering fails requests instead of holding them.
    """

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    database: str = ""
    tls: bool = False
    tls_server_name: str = ""
    tls_skip_verify: bool = False
    params: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 5.0
    query_timeout: float = 10.0

    @property
    def address(self) -> str:
        """``host:port``, as error messages name the server."""
        return f"{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this server, or None when TLS is off."""
        if not self.tls:
            return None
        ctx = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.server_name = self.tls_server_name or self.host
        if self.tls_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.load_default_certs()
        return ctx


class _ServerNameContext(ssl.SSLContext):
    """Checks the certificate against ``server_name`` instead of the host we dialled
    (asyncmy always passes its ``host`` as the TLS server name)."""

    server_name: str = ""

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        name = self.server_name or server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, name, session)


def parse_mysql_dsn(dsn: str) -> MySQLOptions:
    """Parse a Go-driver DSN (``user:pass@tcp(host:port)/db?tls=...``) or a ``mysql://`` URL.

    ``tls=true|skip-verify|preferred|<config name>`` turns TLS on (``skip-verify`` without
    certificate checks); ``tls=false`` or no ``tls`` leaves it off.

    Raises:
        InvalidArgument: the DSN cannot be parsed (the message never shows the password).
    """
    if dsn.startswith(("mysql://", "tidb://")):
        return _parse_url_dsn(dsn)
    slash = dsn.rfind("/")
    if slash < 0:
        raise InvalidArgument("invalid dsn: missing the slash before the database name")
    head, tail = dsn[:slash], dsn[slash + 1 :]
    database, _, query = tail.partition("?")
    user = password = ""
    at = head.rfind("@")
    if at >= 0:
        credentials, head = head[:at], head[at + 1 :]
        user, _, password = credentials.partition(":")
    host, port = "127.0.0.1", 3306
    if head:
        proto, paren, addr = head.partition("(")
        if paren:
            if not addr.endswith(")"):
                raise InvalidArgument("invalid dsn: network address not terminated (missing ')')")
            addr = addr[:-1]
        elif proto and proto != "tcp":
            addr = proto
        if proto not in ("tcp", "") and paren:
            raise InvalidArgument(f"invalid dsn: unsupported network {proto!r} (use tcp)")
        if addr:
            host, port = _split_host_port(addr)
    params = dict(parse_qsl(query, keep_blank_values=True))
    return _with_tls(MySQLOptions(host, port, user, password, unquote(database), params=params))


def _parse_url_dsn(dsn: str) -> MySQLOptions:
    url = urlsplit(dsn)
    try:
        port = url.port or 3306
    except ValueError:
        raise InvalidArgument("invalid dsn: bad port") from None
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    options = MySQLOptions(
        url.hostname or "127.0.0.1",
        port,
        unquote(url.username or ""),
        unquote(url.password or ""),
        unquote(url.path.lstrip("/")),
        params=params,
    )
    return _with_tls(options)


def _split_host_port(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep:
        return addr, 3306
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"invalid dsn: bad port {port!r} in address {addr!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _with_tls(options: MySQLOptions) -> MySQLOptions:
    mode = options.params.get("tls", "").lower()
    if mode in ("", "false"):
        return options
    return replace(options, tls=True, tls_skip_verify=mode == "skip-verify")


def mysql_options(
    config: dict[str, Any], default_database: str, default_port: int = 3306
) -> MySQLOptions:
    """MySQL settings from a validated plugin config (keys of :data:`SQL_CONFIG_FIELDS`).

    ``dsn`` wins over ``host``/``port``/``user``/``password``/``database``; ``enable_tls``,
    ``tls_server_name``, ``tls_skip_verify`` and the timeouts apply to both forms.
    """
    dsn = config.get("dsn") or ""
    if dsn:
        base = parse_mysql_dsn(dsn)
    else:
        base = MySQLOptions(
            host=config.get("host") or "127.0.0.1",
            port=int(config.get("port") or default_port),
            user=config.get("user") or "root",
            password=config.get("password") or "",
            database=config.get("database") or default_database,
        )
    if not base.database:
        base = replace(base, database=default_database)
    tls = base.tls or bool(config.get("enable_tls"))
    return replace(
        base,
        tls=tls,
        tls_server_name=config.get("tls_server_name") or base.tls_server_name,
        tls_skip_verify=base.tls_skip_verify or bool(config.get("tls_skip_verify")),
        connect_timeout=float(config.get("connect_timeout") or base.connect_timeout),
        query_timeout=float(config.get("query_timeout") or base.query_timeout),
    )


def sqlite_path(config: dict[str, Any], default: str) -> str:
    """The SQLite file of a validated plugin config (``db_path``, else ``default``)."""
    return config.get("db_path") or default
