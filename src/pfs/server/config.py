"""The YAML config file: ``server``, ``plugins`` (single and multi-instance) and
``external_plugins``; ``${ENV_VAR}`` substitution; every plugin config checked before start."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import yaml

from pfs.external.loader import ExternalConfigError, wasm_limits
from pfs.fs import WRITE_LIMIT
from pfs.fs.config import parse_size, validate_config
from pfs.fs.errors import InvalidArgument
from pfs.fs.paths import normalize
from pfs.plugins.registry import Registry
from pfs.server.auth import AdminWithoutAuth, Role, TokenEntry
from pfs.server.logs import LOG_FORMATS
from pfs.server.mounting import DEVFS_PATH, split_mount_options
from pfs.server.settings import Settings
from pfs.tls import BadTLSFiles, check_pair

log = logging.getLogger("pfs.config")

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_SERVER_KEYS = {
    "address", "log_level", "log_format", "access_log", "max_body_bytes", "body_timeout", "auth",
    "admin_without_auth", "grep_max_scan_bytes", "grep_max_answer_bytes", "max_open_handles",
    "max_request_body_bytes", "webdav", "metrics", "tls", "max_watchers",
}
#: Server settings given as sizes (``64MB``).
_SIZE_KEYS = ("max_body_bytes", "grep_max_scan_bytes", "grep_max_answer_bytes")
_EXTERNAL_KEYS = {
    "enabled", "plugin_dir", "auto_load", "plugin_paths", "wasi_mount_path",
    "allow_runtime_load", "allow_url_load", "wasm", "python_entry_points",
}
_ENTRY_KEYS = {"enabled", "path", "config", "name", "type", "read_only"}
_LOG_LEVELS = ("debug", "info", "warn", "warning", "error")


class ConfigError(Exception):
    """A config file that cannot start a server; the message says where and why."""


def substitute_env(value: Any) -> Any:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) in every string of a loaded YAML tree."""
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is not set (used as ${{{name}}})")

        return _ENV_RE.sub(repl, value)
    if isinstance(value, list):
        return [substitute_env(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute_env(v) for k, v in value.items()}
    return value


def normalize_address(addr: str) -> str:
    """``:9000`` (Go style: all interfaces) or ``host:port`` → ``host:port``."""
    addr = str(addr).strip()
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"invalid address {addr!r}: expected host:port or :port")
    return f"{host or '0.0.0.0'}:{port}"


def _unknown(section: str, keys: set[str], allowed: set[str]) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise ConfigError(
            f"{section}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})"
        )


def _tokens(auth: Any) -> list[TokenEntry]:
    if auth is None:
        return []
    if not isinstance(auth, dict):
        raise ConfigError("server.auth: must be a mapping with a 'tokens' list")
    _unknown("server.auth", set(auth), {"tokens"})
    entries = auth.get("tokens") or []
    if not isinstance(entries, list):
        raise ConfigError("server.auth.tokens: must be a list of {token|token_env, role}")
    tokens = []
    for i, entry in enumerate(entries):
        where = f"server.auth.tokens[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a mapping")
        _unknown(where, set(entry), {"token", "token_env", "role"})
        role_name = str(entry.get("role", "")).lower()
        if role_name not in ("read", "write", "admin"):
            raise ConfigError(f"{where}.role: must be read, write or admin, got {role_name!r}")
        token = entry.get("token")
        if token is None and "token_env" in entry:
            token = os.environ.get(str(entry["token_env"]))
            if not token:
                raise ConfigError(f"{where}: environment variable {entry['token_env']} is empty")
        if not isinstance(token, str) or not token:
            raise ConfigError(f"{where}: needs a non-empty 'token' or 'token_env'")
        tokens.append(TokenEntry(token, Role[role_name.upper()]))
    return tokens


def _tls(tls: Any) -> tuple[str, str] | None:
    """``server.tls``: the certificate (chain) and key PEM paths, loaded once here so a wrong
    path, a file that is no PEM or a key that does not match the certificate stops start-up."""
    if tls is None:
        return None
    if not isinstance(tls, dict):
        raise ConfigError("server.tls: must be a mapping with 'cert' and 'key' (PEM file paths)")
    _unknown("server.tls", set(tls), {"cert", "key"})
    cert, key = tls.get("cert"), tls.get("key")
    for name, value in (("cert", cert), ("key", key)):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"server.tls.{name}: must be the path of a PEM file")
    assert isinstance(cert, str) and isinstance(key, str)
    try:
        check_pair(cert, key)
    except BadTLSFiles as exc:
        raise ConfigError(f"server.tls{'.' + exc.which if exc.which else ''}: {exc}") from None
    return cert, key


def _admin_without_auth(value: Any) -> AdminWithoutAuth:
    try:
        return AdminWithoutAuth(value)
    except (ValueError, TypeError):
        choices = ", ".join(choice.value for choice in AdminWithoutAuth)
        raise ConfigError(
            f"server.admin_without_auth: must be one of {choices}, got {value!r}"
        ) from None


def _body_timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ConfigError(f"server.body_timeout: must be seconds between 0 and 3600, got {value!r}")
    return float(value)


def _agfs_body_limit(server: dict[str, Any]) -> int:
    """AGFS's ``max_request_body_bytes`` as our ``max_body_bytes`` (0 or less: AGFS's default,
    which is ours too). AGFS caps every body with it; here it caps the bodies a plugin must
    buffer, as ``max_body_bytes`` does: streamed uploads are not held in memory, so not capped."""
    if "max_body_bytes" in server:
        raise ConfigError(
            "server: max_body_bytes and max_request_body_bytes (AGFS's name) set the same "
            "limit; keep one"
        )
    try:
        limit = parse_size(server["max_request_body_bytes"])
    except ValueError as exc:
        raise ConfigError(f"server.max_request_body_bytes: {exc}") from None
    return limit if limit > 0 else WRITE_LIMIT


def _count(key: str, value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigError(
            f"server.{key}: must be a whole number between 1 and {most}, got {value!r}"
        )
    return value


def _mount_entries(
    registry: Registry, plugins: Any, external_enabled: bool = False
) -> list[dict[str, Any]]:
    if plugins is None:
        return []
    if not isinstance(plugins, dict):
        raise ConfigError("plugins: must be a mapping of fstype → entry or list of entries")
    mounts: list[dict[str, Any]] = []
    places: dict[str, str] = {}  # mount path → the entry that has it
    for key, value in plugins.items():
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            raise ConfigError(f"plugins.{key}: an empty list mounts nothing; remove it")
        for index, item in enumerate(items):
            where = f"plugins.{key}" + (f"[{index}]" if isinstance(value, list) else "")
            if not isinstance(item, dict):
                raise ConfigError(f"{where}: must be a mapping with enabled, path, config")
            _unknown(where, set(item), _ENTRY_KEYS)
            if item.get("enabled") is not True:
                log.info("%s: not enabled, skipped", where)
                continue
            fstype = item.get("type") or registry.resolve_name(str(key))
            deferred = external_enabled and (fstype is None or fstype not in registry)
            if deferred:
                # Possibly an external plugin, registered only when the server starts: the mount
                # is checked then (an unknown fstype still stops the server).
                fstype = fstype or str(key)
                log.info("%s: %s is not built in; expecting an external plugin", where, key)
            elif fstype is None or fstype not in registry:
                raise ConfigError(
                    f"{where}: unknown plugin {key!r} (known: {', '.join(registry.names())})"
                )
            if fstype != key:
                log.info("%s: using plugin %s", where, fstype)
            path = item.get("path")
            if not isinstance(path, str) or not path.strip("/"):
                raise ConfigError(f"{where}: 'path' must be a mount path other than /")
            taken = places.setdefault(normalize(path), where)
            if taken != where:
                raise ConfigError(f"{where}: path {normalize(path)} is already {taken}'s")
            config = item.get("config") or {}
            if not isinstance(config, dict):
                raise ConfigError(f"{where}.config: must be a mapping")
            read_only = item.get("read_only", False)
            if not isinstance(read_only, bool):
                raise ConfigError(f"{where}.read_only: must be true or false")
            try:
                config, key_read_only = split_mount_options(fstype, config)
                if not deferred:
                    factory = registry.get(fstype)
                    validate_config(fstype, factory.config_schema, {**config, "mount_path": path})
            except InvalidArgument as exc:
                raise ConfigError(f"{where}: {exc.message}") from None
            mounts.append({
                "fstype": fstype, "path": path, "config": config,
                "read_only": read_only or key_read_only,
                "instance": str(item.get("name") or key),
            })
    return mounts


def _configures_devfs(registry: Registry, plugins: Any) -> bool:
    """Whether ``plugins`` has a devfs entry, enabled or not: it then replaces the ``/dev`` mount
    every server has by default (``enabled: false`` leaves ``/dev`` out)."""
    if not isinstance(plugins, dict):
        return False
    for key, value in plugins.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and (item.get("type") or registry.resolve_name(str(key))) \
                    == "devfs":
                return True
    return False


def settings_from_dict(raw: Any, registry: Registry, address: str | None = None) -> Settings:
    """Validate a whole config tree; raises ConfigError naming the first problem."""
    raw = substitute_env(raw or {})
    if not isinstance(raw, dict):
        raise ConfigError("config: the top level must be a mapping")
    _unknown("config", set(raw), {"server", "plugins", "external_plugins"})
    server = raw.get("server") or {}
    if not isinstance(server, dict):
        raise ConfigError("server: must be a mapping")
    _unknown("server", set(server), _SERVER_KEYS)
    settings = Settings()
    settings.address = normalize_address(address or server.get("address") or "127.0.0.1:8080")
    level = str(server.get("log_level", "info")).lower()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"server.log_level: must be one of {', '.join(_LOG_LEVELS)}")
    settings.log_level = level
    settings.log_format = str(server.get("log_format", "text")).lower()
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"server.log_format: must be one of {', '.join(LOG_FORMATS)}")
    access_log = server.get("access_log", True)
    if not isinstance(access_log, bool):
        raise ConfigError("server.access_log: must be true or false")
    settings.access_log = access_log
    metrics = server.get("metrics", True)
    if not isinstance(metrics, bool):
        raise ConfigError("server.metrics: must be true or false")
    settings.metrics = metrics
    tls = _tls(server.get("tls"))
    if tls is not None:
        settings.tls_cert, settings.tls_key = tls
    for key in _SIZE_KEYS:
        if key in server:
            try:
                setattr(settings, key, parse_size(server[key]))
            except ValueError as exc:
                raise ConfigError(f"server.{key}: {exc}") from None
    if "max_request_body_bytes" in server:
        settings.max_body_bytes = _agfs_body_limit(server)
    if "body_timeout" in server:
        settings.body_timeout = _body_timeout(server["body_timeout"])
    if "max_open_handles" in server:
        handles = server["max_open_handles"]
        settings.max_open_handles = _count("max_open_handles", handles, 1_000_000)
    if "webdav" in server:
        settings.webdav, settings.webdav_prefix = _webdav(server["webdav"])
    if "max_watchers" in server:
        settings.max_watchers = _count("max_watchers", server["max_watchers"], 100_000)
    settings.auth_tokens = _tokens(server.get("auth"))
    settings.admin_without_auth = _admin_without_auth(server.get("admin_without_auth", "owner"))
    external = raw.get("external_plugins") or {}
    if not isinstance(external, dict):
        raise ConfigError("external_plugins: must be a mapping")
    _unknown("external_plugins", set(external), _EXTERNAL_KEYS)
    try:  # checked even when external plugins are off: a typo should not wait for enabling
        wasm_limits(external.get("wasm"))
    except ExternalConfigError as exc:
        raise ConfigError(str(exc)) from None
    settings.external_plugins = external
    python_plugins = external.get("python_entry_points", True)
    if not isinstance(python_plugins, bool):
        raise ConfigError("external_plugins.python_entry_points: must be true or false")
    if not python_plugins:
        dropped = registry.drop_third_party_entry_points()
        if dropped:
            log.info("python_entry_points is off: ignoring plugins %s", ", ".join(dropped))
    settings.mounts = _mount_entries(
        registry, raw.get("plugins"), external_enabled=external.get("enabled") is True
    )
    # A devfs entry, or any mount configured at /dev, takes the place of the default /dev.
    settings.devfs = not _configures_devfs(registry, raw.get("plugins")) and all(
        normalize(entry["path"]) != DEVFS_PATH for entry in settings.mounts
    )
    return settings


def _webdav(raw: Any) -> tuple[bool, str]:
    """``server.webdav``: ``false``, or ``{enabled: true|false, prefix: /webdav}``."""
    if isinstance(raw, bool):
        return raw, "/webdav"
    if not isinstance(raw, dict):
        raise ConfigError("server.webdav: must be true, false or a mapping (enabled, prefix)")
    _unknown("server.webdav", set(raw), {"enabled", "prefix"})
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("server.webdav.enabled: must be true or false")
    prefix = raw.get("prefix", "/webdav")
    if (
        not isinstance(prefix, str)
        or not prefix.startswith("/")
        or prefix.rstrip("/") == ""
        or prefix.rstrip("/").startswith("/api/")
        or any(part in ("", ".", "..") for part in prefix.rstrip("/").split("/")[1:])
    ):
        raise ConfigError(
            "server.webdav.prefix: must be an absolute URL path such as /webdav "
            "(not / and not under /api/)"
        )
    return enabled, prefix.rstrip("/")


def load_file(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Failed to load config file: {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Failed to load config file: {path}: {exc}") from None


#: What the server mounts when started without a config file.
DEFAULT_CONFIG: dict[str, Any] = {
    "server": {"address": "127.0.0.1:8080", "log_level": "info"},
    "plugins": {
        "serverinfofs": {"enabled": True, "path": "/serverinfofs"},
        "memfs": {"enabled": True, "path": "/memfs", "config": {"init_dirs": ["/tmp"]}},
        "kvfs": {"enabled": True, "path": "/kvfs"},
        "hellofs": {"enabled": True, "path": "/hellofs"},
        "streamfs": {"enabled": True, "path": "/streamfs"},
        "queuefs": {"enabled": True, "path": "/queuefs", "config": {"backend": "memory"}},
        "heartbeatfs": {"enabled": True, "path": "/heartbeatfs"},
    },
}
