"""Server-wide settings, validated from the ``server:`` section of the config file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pfs.fs import WRITE_LIMIT
from pfs.fs.events import MAX_WATCHERS
from pfs.fs.handle_table import MAX_OPEN
from pfs.http.requests import BODY_TIMEOUT
from pfs.server.auth import AdminWithoutAuth, TokenEntry


@dataclass
class Settings:
    address: str = "127.0.0.1:8080"
    log_level: str = "info"
    #: ``text`` or ``json`` (one JSON object a line), for our lines and Granian's.
    log_format: str = "text"
    #: One line per request on the ``pfs.access`` logger (at info).
    access_log: bool = True
    #: Prometheus metrics at ``/metrics`` (a count and a latency per request while on).
    metrics: bool = True
    #: PEM files of the API's certificate (chain) and key: HTTPS when both are set.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Bodies buffered for plugins that cannot take a stream are refused beyond this (413).
    max_body_bytes: int = WRITE_LIMIT
    #: JSON request bodies (mount, rename, grep …) are small; anything bigger is refused.
    max_json_bytes: int = 1 << 20
    #: Longest pause (seconds) between two pieces of a request body before it is refused (408).
    body_timeout: float = BODY_TIMEOUT
    #: Bodies and reads up to this size skip the streaming machinery.
    inline_read_bytes: int = 1 << 20
    #: Bytes one grep request may read; past it the answer is what was found, ``truncated``
    #: (0 = no cap).
    grep_max_scan_bytes: int = 0
    #: Matches one non-stream grep answer may hold; past it 413 (stream=true has no cap).
    grep_max_answer_bytes: int = 32 << 20
    #: Handles (``/api/v1/handles``) open at once; opening more is refused (503).
    max_open_handles: int = MAX_OPEN
    #: Watches (``/api/v1/watch``) open at once; more are refused (503).
    max_watchers: int = MAX_WATCHERS
    auth_tokens: list[TokenEntry] = field(default_factory=list)
    #: Who may mount/unmount/load plugins when ``auth_tokens`` is empty.
    admin_without_auth: AdminWithoutAuth = AdminWithoutAuth.OWNER
    #: Mounts to create at start-up: dicts with fstype, path, config, read_only, name.
    mounts: list[dict[str, Any]] = field(default_factory=list)
    #: Whether devfs is mounted at ``/dev`` (off when the config has a ``plugins.devfs`` entry).
    devfs: bool = True
    #: WebDAV over the whole namespace (``server.webdav.enabled``) and its URL prefix.
    webdav: bool = True
    webdav_prefix: str = "/webdav"
    #: The ``external_plugins`` section, kept for the external-plugin loader.
    external_plugins: dict[str, Any] = field(default_factory=dict)
