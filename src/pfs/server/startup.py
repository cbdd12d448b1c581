"""Start-up: mount what the config lists; any failure stops the whole server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pfs.fs.errors import FSError
from pfs.server.admin import mount_plugin

if TYPE_CHECKING:
    from pfs.server.app import Server

log = logging.getLogger("pfs.server")


async def mount_configured(server: Server) -> None:
    if server.external is not None:
        await server.external.startup()
    for entry in server.settings.mounts:
        try:
            await mount_plugin(
                server,
                entry["fstype"],
                entry["path"],
                entry["config"],
                read_only=entry["read_only"],
            )
        except FSError as exc:
            raise RuntimeError(f"mount {entry['fstype']} at {entry['path']}: {exc}") from exc
