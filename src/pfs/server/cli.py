"""The ``pfs-server`` command."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import logging.config
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import yaml
from granian import Granian
from granian._granian import SocketHolder
from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols

from pfs import __version__
from pfs.external.loader import ExternalConfigError
from pfs.fs.config import sample_config
from pfs.fs.mounts import MountTable
from pfs.listen import is_loopback, listen_exclusive
from pfs.plugins.registry import Registry, builtin_registry
from pfs.server import webui
from pfs.server.app import App, Subtree
from pfs.server.auth import Auth
from pfs.server.check_config import check_config
from pfs.server.config import DEFAULT_CONFIG, ConfigError, load_file, settings_from_dict
from pfs.server.config_source import ConfigSource, find_config
from pfs.server.logs import AccessLog, logging_config
from pfs.server.metrics import Metrics
from pfs.server.mounting import DEVFS_PATH, Mounting
from pfs.server.reload import ConfigFile, Reloader, with_log_level
from pfs.server.routes import ROUTES
from pfs.server.settings import Settings
from pfs.server.state import State
from pfs.server.webdav import WebDAV
from pfs.version import version_info

log = logging.getLogger("pfs.server")

_ENV_CONFIG = "PFS_SERVER_CONFIG_JSON"
_ENV_ADDR = "PFS_SERVER_ADDR"
_ENV_RELOAD = "PFS_SERVER_RELOAD_JSON"  # what SIGHUP reads again: ConfigFile's fields


def build_app(
    raw: Any, address: str | None = None, registry: Registry | None = None,
    config_file: ConfigFile | None = None,
) -> App:
    """The app from a raw config tree (validated here; raises ConfigError or
    ExternalConfigError); ``config_file`` is what SIGHUP reads again. This is where the server's
    parts are put together."""
    registry = registry or builtin_registry()
    settings = settings_from_dict(raw, registry, address)
    version_info()  # the git commit is asked once, here, not on the event loop by /health
    fs = MountTable(settings.max_open_handles)
    mounting = Mounting(
        registry, fs, settings.external_plugins, settings.mounts, devfs=settings.devfs
    )
    auth = Auth(settings.auth_tokens, settings.admin_without_auth)
    metrics = Metrics(fs, mounting) if settings.metrics else None
    state = State(settings, fs, mounting, metrics)
    subtrees: list[Subtree] = [webui.Assets()]
    if settings.webdav:
        subtrees.append(WebDAV(state, auth, settings.webdav_prefix))
    return App(ROUTES, state, auth, subtrees, Reloader(state, config_file))


def app_from_env() -> App:
    """Granian's factory target: the worker rebuilds the app from the parent's config."""
    # SIGHUP's default would end the worker until App.startup handles it: ignore it till then.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    raw = json.loads(os.environ.get(_ENV_CONFIG, "null"))
    reload = json.loads(os.environ.get(_ENV_RELOAD, "null"))
    config_file = ConfigFile(Path(reload["path"]), reload["address"], reload["log_level"]) if (
        reload
    ) else None
    app = build_app(raw, os.environ.get(_ENV_ADDR) or None, config_file=config_file)
    _setup_logging(app.state.settings)
    return serving(app)


def serving(app: App) -> App:
    """What the ASGI server runs: the app, writing the access log unless that is off (in the
    settings or by the log level), tuning the garbage collector of the process it serves in."""
    settings = app.state.settings
    if settings.access_log and AccessLog.wanted():
        app.access = AccessLog(settings.log_format)
    app.tune_gc = True
    return app


def _setup_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))


def print_sample_config(registry: Registry) -> None:
    plugins: dict[str, Any] = {}
    for name in registry.names():
        try:
            factory = registry.get(name)
        except Exception:
            continue
        entry: dict[str, Any] = {"enabled": False, "path": f"/{name}"}
        if name == "devfs":  # an entry replaces the /dev every server has: keep it there
            entry = {"enabled": True, "path": DEVFS_PATH}
        sample = sample_config(factory.config_schema)
        if sample:
            entry["config"] = sample
        plugins[name] = entry
    sample_tree = {
        "server": {
            "address": "127.0.0.1:8080",
            "log_level": "info",
            "max_body_bytes": "64MB",
            "metrics": True,
            "auth": {"tokens": [{"token_env": "PFS_ADMIN_TOKEN", "role": "admin"}]},
        },
        "plugins": plugins,
        "external_plugins": {"enabled": False, "plugin_dir": "./plugins", "auto_load": False},
    }
    sys.stdout.write(yaml.safe_dump(sample_tree, sort_keys=False))


class GranianOnSocket(Granian):
    """Granian serving the socket ``listen_exclusive`` bound instead of binding its own.

    Granian has no public option for this. Its main process keeps the socket it shares with its
    workers in ``_shd``/``_sfd``/``_sso`` (the path it takes where SO_REUSEPORT is missing); on
    Linux it would leave them empty and let each worker bind with SO_REUSEPORT, which lets a second
    server join the address. Filling them in makes the workers accept on our socket.
    """

    def __init__(self, *args: Any, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._own_socket = sock

    def _init_shared_socket(self) -> None:
        sock = self._own_socket
        sock.set_inheritable(True)
        self._ssp = None
        self._shd = SocketHolder(sock.fileno(), False, self.backlog)
        self._sfd = sock.fileno()
        self._sso = sock  # Granian closes it at shutdown

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        """SIGHUP: the worker re-reads the config (pfs.server.reload) instead of Granian
        respawning it from the config it started with."""
        for worker in self.wrks:
            pid = worker._id()
            if pid:
                os.kill(pid, signal.SIGHUP)


def _listen(address: str) -> socket.socket | None:
    """The server's listening socket, or None after a one-line error on stderr."""
    host, _, port = address.rpartition(":")
    try:
        return listen_exclusive(host, int(port))
    except OSError as exc:
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"is unusable: {exc}"
        print(f"pfs-server: address {address} {reason}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pfs-server", description="PFS file-system server")
    parser.add_argument(
        "-c",
        "--config",
        help="YAML config file (else $PFS_CONFIG, ./pfs.yaml, ~/.config/pfs/config.yaml, "
        "/etc/pfs/config.yaml, the built-in mounts)",
    )
    parser.add_argument(
        "--default-config",
        action="store_true",
        help="use the built-in mounts and look for no config file",
    )
    parser.add_argument("-addr", "--addr", dest="addr", help="listen address, :8080 or host:port")
    parser.add_argument("-print-sample-config", "--print-sample-config", action="store_true")
    parser.add_argument(
        "-log-level",
        "--log-level",
        dest="log_level",
        choices=["debug", "info", "warn", "warning", "error"],
    )
    parser.add_argument("-version", "--version", action="store_true")
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the config, print per mount whether its state is shared by every "
        "server with this config or per-server, and exit (0 valid, 2 not)",
    )
    parser.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="ASGI server to run the app under",
    )
    args = parser.parse_args(argv)

    if args.version:
        print(f"pfs-server version: {__version__}")
        info = version_info()
        print(f"Git commit: {info['gitCommit']}")
        print(f"Build time: {info['buildTime']}")
        return 0
    registry = builtin_registry()
    if args.print_sample_config:
        print_sample_config(registry)
        return 0
    try:
        source = (
            ConfigSource(None, "--default-config")
            if args.default_config
            else find_config(args.config)
        )
        raw = with_log_level(
            load_file(source.path) if source.path else DEFAULT_CONFIG, args.log_level
        )
        config_file = ConfigFile(source.path, args.addr, args.log_level) if source.path else None
        app = build_app(raw, args.addr, registry, config_file)
    except (ConfigError, ExternalConfigError) as exc:
        print(f"pfs-server: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        return check_config(app.state, source.describe(), sys.stdout)
    settings = app.state.settings
    sock = _listen(settings.address)
    if sock is None:
        return 1
    _setup_logging(settings)
    log.info("config: %s", source.describe())
    host = settings.address.rpartition(":")[0]
    if not is_loopback(host) and not settings.auth_tokens:
        anyone_mounts = settings.admin_without_auth == "anyone"
        can = "read, write and mount" if anyone_mounts else "read and write"
        log.warning(
            "!!! listening on %s without auth: anyone who can reach this address can %s. "
            "Set server.auth.tokens. !!!",
            settings.address,
            can,
        )
    os.environ[_ENV_CONFIG] = json.dumps(raw)
    os.environ[_ENV_ADDR] = settings.address
    if config_file is not None:
        os.environ[_ENV_RELOAD] = json.dumps(
            {"path": str(config_file.path), "address": args.addr, "log_level": args.log_level}
        )
    if settings.tls_cert:
        log.info("serving HTTPS with %s", settings.tls_cert)
    if args.server == "uvicorn":
        import uvicorn

        config = uvicorn.Config(serving(app), log_level="warning", lifespan="on",
                                log_config=None, ssl_certfile=settings.tls_cert,
                                ssl_keyfile=settings.tls_key)
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    host, port = sock.getsockname()[:2]
    tls: dict[str, Any] = {}
    if settings.tls_cert and settings.tls_key:
        # TLS 1.2 too (Granian's own minimum is 1.3): clients such as older scrapers need it.
        tls = {"ssl_cert": Path(settings.tls_cert), "ssl_key": Path(settings.tls_key),
               "ssl_protocol_min": SSLProtocols.tls12}
    GranianOnSocket(
        "pfs.server.cli:app_from_env",
        sock=sock,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
        loop=Loops.uvloop,
        log_level=settings.log_level if settings.log_level != "warning" else "warn",
        log_dictconfig=logging_config(settings.log_level, settings.log_format),
        backpressure=1024,
        http=HTTPModes.http1,
        websockets=False,
        **tls,
    ).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
