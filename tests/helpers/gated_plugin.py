"""A third-party plugin, installed by hand into a temporary site directory, whose ``start``
waits until a file exists: a mount that stays pending for exactly as long as a test wants."""

from __future__ import annotations

from pathlib import Path

_MODULE = '''
import asyncio
import os

from pfs.fs import Field, FileInfo, FileSystem, Meta


class GatedFS(FileSystem):
    fstype = "gatedfs"
    config_schema = (Field("gate", "string", required=True),)

    async def start(self):
        while not os.path.exists(self.config["gate"]):
            await asyncio.sleep(0.02)

    async def stat(self, path):
        return FileInfo("/", 0, 0o555, is_dir=True, meta=Meta("gatedfs", "directory"))

    async def readdir(self, path):
        return []
'''


def gated_site(directory: Path) -> Path:
    """A directory for PYTHONPATH that makes fstype ``gatedfs`` mountable (config: ``gate``,
    the file whose existence lets the mount finish starting)."""
    (directory / "gatedfs_plugin.py").write_text(_MODULE)
    info = directory / "gatedfs_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gatedfs-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pfs.plugins]\ngatedfs = gatedfs_plugin:GatedFS\n")
    return directory
