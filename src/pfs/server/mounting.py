"""The one place mounts are made: the config's mounts at start, ``/mount`` at run time, and the
external plugins (native, WASM) that register fstypes for both."""

from __future__ import annotations

import logging
from typing import Any

from pfs.external.loader import ExternalPlugins
from pfs.fs.errors import FSError, InvalidArgument, MountExists, PermissionDenied
from pfs.fs.mounts import MountTable
from pfs.fs.paths import normalize
from pfs.plugins.registry import PluginFactory, Registry

log = logging.getLogger("pfs.server")


def split_mount_options(plugin: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Separate server-handled keys (``read_only``) from the plugin's own config."""
    config = dict(config)
    read_only = config.pop("read_only", False)
    if not isinstance(read_only, bool):
        raise InvalidArgument(f"{plugin}: config key 'read_only' must be a boolean")
    return config, read_only


class Mounting:
    """Mounts plugins from ``registry`` into ``fs``; ``external`` is the loader of native and
    WASM plugins when the config enables it (``external_plugins.enabled: true``)."""

    def __init__(
        self,
        registry: Registry,
        fs: MountTable,
        external_section: dict[str, Any] | None,
        configured: list[dict[str, Any]],
    ) -> None:
        self.registry = registry
        self.fs = fs
        self.configured = configured
        section = external_section or {}
        self.external = (
            ExternalPlugins(registry, fs, section) if section.get("enabled") is True else None
        )

    async def start(self) -> None:
        """Load external plugins, then mount every configured entry; any failure aborts start-up
        (never half-configured)."""
        if self.external is not None:
            await self.external.startup()
        for entry in self.configured:
            fstype, path = entry["fstype"], entry["path"]
            try:
                factory, config, read_only = self.prepare(fstype, path, entry["config"])
                await self.mount(
                    fstype, path, factory, config, read_only=read_only or entry["read_only"]
                )
            except FSError as exc:
                raise RuntimeError(f"mount {fstype} at {path}: {exc}") from exc

    async def stop(self) -> None:
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
        try:
            await self.fs.mount(
                normalize(path),
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

    def loader(self) -> ExternalPlugins:
        """The external-plugin loader, when run-time loading is on."""
        if self.external is None or not self.external.runtime_loading:
            raise PermissionDenied(
                "permission denied: run-time plugin loading is not enabled "
                "(set external_plugins.enabled and allow_runtime_load in the config)"
            )
        return self.external
