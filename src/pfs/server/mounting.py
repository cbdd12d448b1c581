"""The one place mounts are made: the config's mounts at start, ``/mount`` at run time, and the
external plugins (native, WASM) that register fstypes for both.

Mounts made at start-up are tracked (:class:`MountStatus`): ``/dev`` first, then every configured
mount, each ``pending`` until its plugin has started, then ``mounted`` or ``failed``. A plugin
that fails to start leaves the server up and degraded (``/health``, ``/ready``) instead of
stopping it; a config that cannot be validated still stops it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Any

from pfs.external.loader import ExternalPlugins
from pfs.fs.errors import FSError, InvalidArgument, MountExists, PermissionDenied
from pfs.fs.mounts import Mount, MountTable, shown_config
from pfs.fs.paths import normalize
from pfs.plugins.registry import PluginFactory, Registry

log = logging.getLogger("pfs.server")

#: Where devfs is mounted unless the config's ``plugins.devfs`` says otherwise.
DEVFS_PATH = "/dev"


def split_mount_options(plugin: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Separate server-handled keys (``read_only``) from the plugin's own config."""
    config = dict(config)
    read_only = config.pop("read_only", False)
    if not isinstance(read_only, bool):
        raise InvalidArgument(f"{plugin}: config key 'read_only' must be a boolean")
    return config, read_only


class MountStatus(enum.StrEnum):
    PENDING = "pending"
    MOUNTED = "mounted"
    FAILED = "failed"


@dataclass
class Tracked:
    """A start-up mount: its YAML key (``instance``), config as listed, and how it is doing."""

    path: str
    fstype: str
    instance: str
    config: dict[str, Any]
    status: MountStatus = MountStatus.PENDING
    error: str = ""
    #: Whether its state lives in an engine other servers can share (``shares_state``).
    shared: bool = False


class Mounting:
    """Mounts plugins from ``registry`` into ``fs``; ``external`` is the loader of native and
    WASM plugins when the config enables it (``external_plugins.enabled: true``)."""

    def __init__(
        self,
        registry: Registry,
        fs: MountTable,
        external_section: dict[str, Any] | None,
        configured: list[dict[str, Any]],
        devfs: bool = False,
    ) -> None:
        self.registry = registry
        self.fs = fs
        self.configured = configured
        self.devfs = devfs
        section = external_section or {}
        self.external = (
            ExternalPlugins(registry, fs, section) if section.get("enabled") is True else None
        )
        #: Start-up mounts by path; a run-time unmount drops one, a run-time mount revives one.
        self.tracked: dict[str, Tracked] = {}
        #: Mounted paths whose state lives outside this server (``FileSystem.shares_state``).
        self.shared: dict[str, bool] = {}
        self._starting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Load external plugins and mount ``/dev`` (unless the install predates devfs: its
        entry point is missing until ``pip install`` runs again); validate every configured
        entry (a bad one stops start-up), then start their plugins in the background: the
        server answers (and ``/ready`` says 503) while they start."""
        if self.external is not None:
            await self.external.startup()
        if self.devfs and "devfs" in self.registry:
            entry = {"fstype": "devfs", "path": DEVFS_PATH, "config": {}, "read_only": False}
            await self._start_tracked(
                self._track(entry), entry, *self.prepare("devfs", DEVFS_PATH, {})
            )
        prepared = []
        for entry in self.configured:
            fstype, path = entry["fstype"], entry["path"]
            try:
                prepared.append((entry, *self.prepare(fstype, path, entry["config"])))
            except FSError as exc:
                raise RuntimeError(f"mount {fstype} at {path}: {exc}") from exc
        for entry, factory, config, read_only in prepared:
            task = asyncio.create_task(
                self._start_tracked(self._track(entry), entry, factory, config, read_only)
            )
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _start_tracked(
        self, tracked: Tracked, entry: dict[str, Any], factory: PluginFactory,
        config: dict[str, Any], read_only: bool,
    ) -> None:
        fstype, path = entry["fstype"], tracked.path
        tracked.shared = factory.shares_state(config)
        try:
            await self.mount(fstype, path, factory, config, shown_config=entry["config"] or None,
                             read_only=read_only or entry["read_only"])
        except FSError as exc:
            log.error("mount %s at %s failed: %s", fstype, path, exc)
            if tracked.status is MountStatus.PENDING:
                tracked.status, tracked.error = MountStatus.FAILED, exc.message
        except Exception as exc:  # a plugin's own bug: the mount fails, the server stays up
            log.exception("mount %s at %s failed", fstype, path)
            if tracked.status is MountStatus.PENDING:
                tracked.status, tracked.error = MountStatus.FAILED, str(exc) or type(exc).__name__

    async def settled(self) -> None:
        """Wait until every start-up mount has started or failed."""
        await asyncio.gather(*self._starting, return_exceptions=True)

    async def start_entry(
        self, entry: dict[str, Any], factory: PluginFactory, config: dict[str, Any],
        read_only: bool,
    ) -> None:
        """Mount one prepared config entry as start-up does, tracked (a reload's new mounts)."""
        await self._start_tracked(self._track(entry), entry, factory, config, read_only)

    async def drop(self, path: str) -> bool:
        """Unmount a config entry's ``path`` unless it failed or was unmounted by hand (the path
        may then hold a run-time mount, which stays); whether it was unmounted."""
        path = normalize(path)
        mounted = path in self.tracked and any(mount.path == path for mount in self.fs.list())
        if mounted:
            await self.unmount(path)
        self.tracked.pop(path, None)
        return mounted

    def _track(self, entry: dict[str, Any]) -> Tracked:
        path = normalize(entry["path"])
        tracked = self.tracked[path] = Tracked(
            path, entry["fstype"], entry.get("instance") or entry["fstype"],
            shown_config(entry["config"]),
        )
        return tracked

    def counts(self) -> dict[str, int]:
        """How many start-up mounts there are, and how many are in each state."""
        counts = {"total": len(self.tracked), **{status.value: 0 for status in MountStatus}}
        for tracked in self.tracked.values():
            counts[tracked.status.value] += 1
        return counts

    def listing(self) -> list[dict[str, Any]]:
        """Every mount and every start-up mount not (yet) mounted, one entry per path, sorted."""
        entries = {m.path: self._entry(m) for m in self.fs.list()}
        for path, tracked in self.tracked.items():
            if path not in entries:
                entries[path] = _tracked_entry(tracked)
        return [entries[path] for path in sorted(entries)]

    def _entry(self, mount: Mount) -> dict[str, Any]:
        """A mount as listed: AGFS's key order (path, pluginName, instance, status, config)."""
        entry: dict[str, Any] = {"path": mount.path, "pluginName": mount.fstype}
        tracked = self.tracked.get(mount.path)
        if tracked is not None and tracked.fstype == mount.fstype:
            entry["instance"] = tracked.instance
        entry["status"] = MountStatus.MOUNTED.value
        entry["shared"] = self.shared.get(mount.path, False)
        if mount.config:
            entry["config"] = shown_config(mount.config)
        return entry

    async def stop(self) -> None:
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        await self.fs.shutdown()
        if self.external is not None:
            await self.external.shutdown()

    def prepare(
        self, fstype: str, path: str, config: dict[str, Any] | None
    ) -> tuple[PluginFactory, dict[str, Any], bool]:
        """The factory for ``fstype``, its config validated for a mount at ``path``, and the
        entry's ``read_only`` key."""
        config, read_only = split_mount_options(fstype, config or {})
        factory, validated = self.registry.prepare(
            fstype, {**config, "mount_path": normalize(path)}
        )
        return factory, validated, read_only

    async def mount(
        self,
        fstype: str,
        path: str,
        factory: PluginFactory,
        config: dict[str, Any],
        *,
        shown_config: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        """Start and register one prepared mount; a plugin's failure reads ``failed to initialize
        plugin: ...`` with its status kept."""
        path = normalize(path)
        try:
            await self.fs.mount(
                path,
                fstype,
                factory,
                config,
                shown_config=shown_config,
                read_only=read_only,
            )
        except MountExists:
            raise
        except FSError as exc:
            raise exc.with_context("failed to initialize plugin") from exc
        except Exception as exc:
            raise FSError(f"failed to initialize plugin: {exc}") from exc
        self.shared[path] = factory.shares_state(config)
        tracked = self.tracked.get(path)
        if tracked is not None:
            if tracked.fstype != fstype:  # another plugin took the path at run time
                del self.tracked[path]
            else:
                tracked.status, tracked.error = MountStatus.MOUNTED, ""

    async def unmount(self, path: str) -> None:
        """Unmount ``path``; a start-up mount unmounted by hand is no longer counted."""
        await self.fs.unmount(path)
        self.tracked.pop(normalize(path), None)
        self.shared.pop(normalize(path), None)

    def loader(self) -> ExternalPlugins:
        """The external-plugin loader, when run-time loading is on."""
        if self.external is None or not self.external.runtime_loading:
            raise PermissionDenied(
                "permission denied: run-time plugin loading is not enabled "
                "(set external_plugins.enabled and allow_runtime_load in the config)"
            )
        return self.external


def _tracked_entry(tracked: Tracked) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": tracked.path,
        "pluginName": tracked.fstype,
        "instance": tracked.instance,
        "status": tracked.status.value,
        "shared": tracked.shared,
    }
    if tracked.error:
        entry["error"] = tracked.error
    if tracked.config:
        entry["config"] = tracked.config
    return entry
