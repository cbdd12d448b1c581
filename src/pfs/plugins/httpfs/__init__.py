"""httpfs: serve a PFS path over HTTP or HTTPS (browser listings, downloads, ranges).

Each mount runs its own HTTP server on ``host:port``: the ASGI app of ``site`` served by uvicorn
on the running event loop. The port is bound inside ``start`` the way pfs-server binds its own
(no SO_REUSEPORT), so a port anyone listens on fails the mount and nothing can join a mounted one;
unmount closes the listener and every connection (downloads in flight after a grace period).
Files are read through the namespace (the mount context's ``namespace``), so whatever is mounted
under ``pfs_path`` is served.

Inside PFS the mount point is one read-only status file.

Without ``token``/``token_env`` or ``basic_user``+``basic_password`` anyone who can reach
``host:port`` reads every file served.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from pfs.fs import (
    REPLACE,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    InvalidArgument,
    Meta,
    ReadOnly,
    WriteFlag,
    read_range,
)
from pfs.fs.base import truncate_as_no_op
from pfs.fs.gotime import format_duration
from pfs.fs.paths import normalize
from pfs.listen import is_loopback, listen_exclusive
from pfs.plugins.httpfs.auth import credentials
from pfs.plugins.httpfs.site import Site, clock
from pfs.tls import BadTLSFiles, check_pair

log = logging.getLogger("pfs.plugins.httpfs")

READ_ONLY_MESSAGE = "httpfs is read-only via filesystem interface, use HTTP to access files"
#: Seconds an idle keep-alive connection stays open.
IDLE_TIMEOUT = 60
#: Seconds unmount waits for answers in flight before cutting them off.
SHUTDOWN_GRACE = 5


class _EmbeddedServer(uvicorn.Server):
    """uvicorn as a guest on pfs-server's loop: the host process owns SIGINT and SIGTERM (uvicorn
    would take them over for as long as it serves)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HTTPFS(FileSystem):
    fstype = "httpfs"
    root_is_file = True  # the mount point reads as the status text
    config_schema = (
        Field(
            "pfs_path", "string", required=True, aliases=("agfs_path",), help="PFS path to serve"
        ),
        Field("host", "string", default="127.0.0.1", help="address to listen on (0.0.0.0: all)"),
        Field("port", "port", default=None, help="port to listen on (default 8000)"),
        Field("http_port", "port", default=None, help="alias of port"),
        Field("token", "string", default=None, help="bearer token clients must send"),
        Field("token_env", "string", default=None, help="environment variable holding token"),
        Field("basic_user", "string", default=None, help="HTTP basic auth user (with password)"),
        Field("basic_password", "string", default=None, help="HTTP basic auth password"),
        Field(
            "basic_password_env",
            "string",
            default=None,
            help="environment variable holding basic_password",
        ),
        Field("tls_cert", "string", default=None, help="PEM certificate (chain): serve HTTPS"),
        Field("tls_key", "string", default=None, help="PEM private key of tls_cert"),
    )
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.pfs_path = normalize(config["pfs_path"])
        self.host: str = config["host"]
        port, alias = config.get("port"), config.get("http_port")
        if port is not None and alias is not None and port != alias:
            raise InvalidArgument(f"httpfs: port ({port}) and http_port ({alias}) disagree")
        self.port: int = (
            8000 if port is None and alias is None else int(port if port is not None else alias)
        )
        self.mount_path: str = config["mount_path"]
        self.credentials = credentials(config)
        self.tls_cert: str | None = config.get("tls_cert")
        self.tls_key: str | None = config.get("tls_key")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidArgument("httpfs: tls_cert and tls_key go together: give both or neither")
        if self.tls_cert is not None and self.tls_key is not None:
            try:
                check_pair(self.tls_cert, self.tls_key)
            except BadTLSFiles as exc:
                which = f"tls_{exc.which}" if exc.which else "tls_cert/tls_key"
                raise InvalidArgument(f"httpfs: {which}: {exc}") from None
        self.scheme = "https" if self.tls_cert else "http"
        self.started_ns = time.time_ns()
        self._server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.context is None:
            raise InvalidArgument("httpfs: no root filesystem was handed to the plugin")
        try:
            # Like pfs-server: no SO_REUSEPORT, so a port anyone listens on fails the mount.
            sock = listen_exclusive(self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AlreadyExists(
                    f"httpfs: cannot listen on {self.host}:{self.port}: address already in use"
                ) from exc
            raise InvalidArgument(
                f"httpfs: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        config = uvicorn.Config(
            Site(self.context.namespace, self.pfs_path, self.credentials),
            interface="asgi3",
            http="httptools",
            ws="none",
            lifespan="off",
            log_config=None,  # pfs-server's logging stays as it is
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            headers=[("server", "pfs-httpfs")],
            timeout_keep_alive=IDLE_TIMEOUT,
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
            ssl_certfile=self.tls_cert,
            ssl_keyfile=self.tls_key,
        )
        try:
            config.load()
        except BaseException:
            sock.close()
            raise
        self._server = _EmbeddedServer(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        self.port = sock.getsockname()[1]
        self.started_ns = time.time_ns()
        log.info(
            "httpfs serving %s on %s://%s:%d", self.pfs_path, self.scheme, self.host, self.port
        )
        if not self.credentials and not is_loopback(self.host):
            log.warning(
                "!!! httpfs on %s:%d has no auth: anyone who can reach it reads %s. "
                "Set token, token_env or basic_user/basic_password. !!!",
                self.host,
                self.port,
                self.pfs_path,
            )

    async def shutdown(self) -> None:
        server, serving = self._server, self._serving
        if server is None or serving is None:
            return
        self._server = self._serving = None
        # uvicorn closes the listener and idle connections, then gives answers in flight
        # SHUTDOWN_GRACE seconds before it cancels them.
        server.should_exit = True
        try:
            await serving
        except Exception:
            log.exception("httpfs on port %d: the server failed", self.port)

    # -- the status file -------------------------------------------------------------------

    def status_text(self) -> str:
        endpoint = f"{self.scheme}://{self.host}:{self.port}"
        uptime = format_duration(round((time.time_ns() - self.started_ns) / 1e9) * 1_000_000_000)
        lines = [
            "HTTPFS Instance Status",
            "=" * 22,
            "",
            f"{'Virtual Path:':<17}{self.mount_path}",
            f"{'PFS Source Path:':<17}{self.pfs_path}",
            f"{'HTTP Host:':<17}{self.host}",
            f"{'HTTP Port:':<17}{self.port}",
            f"{'HTTP Endpoint:':<17}{endpoint}",
            f"{'HTTP Auth:':<17}{self.credentials.describe()}",
            "",
            f"{'Server Status:':<17}{'Running' if self._server is not None else 'Stopped'}",
            f"{'Start Time:':<17}{clock(self.started_ns)}",
            f"{'Uptime:':<17}{uptime}",
            "",
            "Access this HTTP server:",
            f"  Browser:       {endpoint}/",
            f"  CLI:           curl {endpoint}/",
            "",
            f"Serving content from PFS path: {self.pfs_path}",
            f"All files under {self.pfs_path} are accessible via HTTP on {self.host}:{self.port}",
        ]
        return "\n".join(lines) + "\n"

    async def stat(self, path: str) -> FileInfo:
        if path != "/":
            raise ReadOnly(READ_ONLY_MESSAGE)
        size = len(self.status_text().encode())
        return FileInfo(
            "status", size, 0o444, self.started_ns, False, Meta("httpfs-status", "virtual")
        )

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if path != "/":
            raise ReadOnly(READ_ONLY_MESSAGE)
        # The original treats size 0 as "everything" for this file.
        return read_range(self.status_text().encode(), offset, size if size > 0 else -1)

    async def readdir(self, path: str) -> list[FileInfo]:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def create(self, path: str) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def remove(self, path: str, recursive: bool = False) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def rename(self, old: str, new: str) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    async def chmod(self, path: str, mode: int) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE)

    #: Accepted on the status file, as AGFS does; every other path is refused by ``stat``.
    truncate = truncate_as_no_op
