"""Where the server's config comes from: ``-c``, else ``$PFS_CONFIG``, else the first file found
of ``./pfs.yaml``, ``~/.config/pfs/config.yaml`` (``$XDG_CONFIG_HOME`` when set) and
``/etc/pfs/config.yaml``, else the built-in default. The server logs which at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CONFIG = Path("/etc/pfs/config.yaml")


@dataclass(frozen=True, slots=True)
class ConfigSource:
    path: Path | None  # None: the built-in default
    found_by: str  # "-c", "$PFS_CONFIG", "./pfs.yaml", ..., "built-in default"

    def describe(self) -> str:
        if self.path is None:
            return "the built-in default (no -c, no $PFS_CONFIG, no config file found)"
        return f"{self.path} (from {self.found_by})"


def find_config(
    explicit: str | None,
    *,
    environ: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
    home: Path | None = None,
    system: Path = SYSTEM_CONFIG,
) -> ConfigSource:
    if explicit:
        return ConfigSource(Path(explicit), "-c")
    if environ.get("PFS_CONFIG"):
        return ConfigSource(Path(environ["PFS_CONFIG"]), "$PFS_CONFIG")
    config_home = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else (
        (home or Path.home()) / ".config"
    )
    candidates = [
        ((cwd or Path.cwd()) / "pfs.yaml", "./pfs.yaml"),
        (config_home / "pfs" / "config.yaml", "~/.config/pfs/config.yaml"),
        (system, str(system)),
    ]
    for path, found_by in candidates:
        if path.is_file():
            return ConfigSource(path, found_by)
    return ConfigSource(None, "built-in default")
