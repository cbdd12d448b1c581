"""``SIGHUP``: read the config file the server started with again and apply the difference in
mounts: mount what is new, unmount what is gone, remount what changed (same path, other plugin or
config). A file that cannot be read or validated, or names a plugin that is not there, is refused
with one log line and the running mounts stay as they are. Settings outside the mounts (address,
auth, TLS, limits ...) are only read at start: a change to them is logged as needing a restart.

Granian runs the app in a worker process; its main process forwards the signal there
(``GranianOnSocket``) instead of respawning the worker, which would start over from the old config.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pfs.external.loader import ExternalConfigError
from pfs.fs.errors import FSError
from pfs.fs.paths import normalize
from pfs.plugins.registry import PluginFactory, Registry
from pfs.server.config import ConfigError, load_file, settings_from_dict
from pfs.server.settings import Settings
from pfs.server.state import State

log = logging.getLogger("pfs.server")

#: Settings a reload applies; every other one needs a restart.
_APPLIED = {"mounts"}


def with_log_level(raw: Any, log_level: str | None) -> Any:
    """``raw`` with ``--log-level`` (when given) in place of the file's ``server.log_level``."""
    if not log_level:
        return raw
    server = (raw or {}).get("server") or {}
    return {**(raw or {}), "server": {**server, "log_level": log_level}}


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The config file and the command-line options that override it, as at start."""

    path: Path
    address: str | None = None
    log_level: str | None = None

    def settings(self, registry: Registry) -> Settings:
        """The file's settings now (raises ConfigError or ExternalConfigError)."""
        raw = with_log_level(load_file(self.path), self.log_level)
        return settings_from_dict(raw, registry, self.address)


Prepared = tuple[dict[str, Any], PluginFactory, dict[str, Any], bool]


class Reloader:
    def __init__(self, state: State, source: ConfigFile | None) -> None:
        self.state = state
        self.source = source
        self._lock = asyncio.Lock()  # two quick SIGHUPs apply one after the other

    async def reload(self) -> None:
        async with self._lock:
            await self._reload()

    async def _reload(self) -> None:
        if self.source is None:
            log.warning("reload: the server runs on the built-in default config: nothing to read")
            return
        mounting = self.state.mounting
        await mounting.settled()  # a mount still starting is compared as what it will be
        try:
            new = await asyncio.to_thread(self.source.settings, mounting.registry)
            old = {normalize(e["path"]): e for e in mounting.configured}
            wanted = {normalize(e["path"]): e for e in new.mounts}
            gone = [path for path in old if path not in wanted]
            changed = [p for p, e in wanted.items() if p in old and old[p] != e]
            # Every plugin config is validated before anything is touched.
            prepared: list[Prepared] = [
                (entry, *mounting.prepare(entry["fstype"], path, entry["config"]))
                for path, entry in wanted.items()
                if path not in old or path in changed
            ]
        except (ConfigError, ExternalConfigError, FSError) as exc:
            log.error("reload of %s refused, mounts unchanged: %s", self.source.path, exc)
            return
        for name in _restart_only(self.state.settings, new):
            log.warning("reload: server setting %s changed: needs a restart", name)
        unmounted = 0
        for path in gone + changed:
            if await mounting.drop(path) and path in gone:
                unmounted += 1
                log.info("reload: unmounted %s (%s)", path, old[path]["fstype"])
        for entry, factory, config, read_only in prepared:
            path = normalize(entry["path"])
            await mounting.start_entry(entry, factory, config, read_only)
            what = "remounted" if path in changed else "mounted"
            log.info("reload: %s %s at %s", what, entry["fstype"], path)
        mounting.configured = new.mounts
        log.info(
            "reload of %s done: %d mounted, %d unmounted, %d remounted", self.source.path,
            len(prepared) - len(changed), unmounted, len(changed),
        )


def _restart_only(old: Settings, new: Settings) -> list[str]:
    return [
        field.name
        for field in dataclasses.fields(Settings)
        if field.name not in _APPLIED and getattr(old, field.name) != getattr(new, field.name)
    ]
