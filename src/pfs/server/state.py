"""What handlers see of the server: its settings, the namespace and the mount service."""

from __future__ import annotations

from dataclasses import dataclass

from pfs.fs.mounts import MountTable
from pfs.server.metrics import Metrics
from pfs.server.mounting import Mounting
from pfs.server.settings import Settings


@dataclass(frozen=True)
class State:
    settings: Settings
    fs: MountTable
    mounting: Mounting
    #: None when ``server.metrics`` is off.
    metrics: Metrics | None = None
