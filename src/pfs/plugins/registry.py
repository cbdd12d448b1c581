"""The table of mountable fstypes: entry-point plugins (built-ins included) and run-time loaded
external plugins all pass through the same ``register``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from pfs.extras import needs
from pfs.fs.base import FileSystem
from pfs.fs.config import Field, validate_config
from pfs.fs.errors import AlreadyExists, InvalidArgument

log = logging.getLogger("pfs.plugins")

ENTRY_POINT_GROUP = "pfs.plugins"


class PluginFactory(Protocol):
    """What a registry entry is: a FileSystem class, or an object shaped like one."""

    fstype: str
    config_schema: tuple[Field, ...]

    def __call__(self, config: dict[str, Any]) -> FileSystem: ...

    def shares_state(self, config: dict[str, Any]) -> bool: ...


#: Validates a free-form plugin config in place of a schema; returns the config to mount with.
ConfigCheck = Callable[[dict[str, Any]], dict[str, Any]]


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory | EntryPoint] = {}
        self._config_checks: dict[str, ConfigCheck] = {}

    def register(
        self,
        name: str,
        factory: PluginFactory | EntryPoint,
        check_config: ConfigCheck | None = None,
    ) -> None:
        """Make ``name`` mountable; ``check_config`` replaces the schema check for plugins that
        validate their own config (external plugins)."""
        if name in self._factories:
            raise AlreadyExists(f"plugin already registered: {name}")
        self._factories[name] = factory
        if check_config is not None:
            self._config_checks[name] = check_config

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)
        self._config_checks.pop(name, None)

    def load_entry_points(self) -> int:
        """Register every ``pfs.plugins`` entry point not yet known; returns how many."""
        count = 0
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self._factories:
                continue
            self._factories[ep.name] = ep
            count += 1
        return count

    def drop_third_party_entry_points(self, own_distribution: str = "pfs") -> list[str]:
        """Forget entry points (not yet loaded) that other installed packages declared."""
        dropped = [
            name for name, factory in self._factories.items()
            if isinstance(factory, EntryPoint)
            and (factory.dist is None or factory.dist.name != own_distribution)
        ]
        for name in dropped:
            del self._factories[name]
        return dropped

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def get(self, name: str) -> PluginFactory:
        factory = self._factories.get(name)
        if factory is None:
            raise InvalidArgument(f"unknown filesystem type: {name}")
        if isinstance(factory, EntryPoint):
            try:
                factory = factory.load()
            except ImportError as exc:
                raise InvalidArgument(needs(f"plugin {name}", exc)) from exc
            self._factories[name] = factory
        return factory

    def resolve_name(self, key: str) -> str | None:
        """Config-file keys: exact fstype, else drop ``_suffix`` parts (``localfs_home``)."""
        candidate = key
        while candidate:
            if candidate in self._factories:
                return candidate
            if "_" not in candidate:
                return None
            candidate = candidate.rsplit("_", 1)[0]
        return None

    def prepare(self, name: str, config: dict[str, Any] | None) -> tuple[PluginFactory, dict]:
        """The factory for ``name`` and ``config`` validated against its schema."""
        factory = self.get(name)
        check = self._config_checks.get(name)
        if check is not None:
            return factory, check(dict(config or {}))
        return factory, validate_config(name, factory.config_schema, config)


def builtin_registry() -> Registry:
    registry = Registry()
    registry.load_entry_points()
    return registry
