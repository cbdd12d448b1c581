"""``pfs fuse MOUNTPOINT``: the PFS namespace as a kernel file system (pyfuse3, asyncio mode)."""

from __future__ import annotations

from pfs.fuse.cli import main

__all__ = ["main"]
