"""Where the external-plugin loader attaches to a server (native .so, WASM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pfs.server.app import Server


def attach_external(server: Server) -> None:
    """With ``external_plugins.enabled: true`` the loader serves ``server.external``; otherwise
    ``/plugins`` lists nothing and run-time loading answers 501."""
    section = server.settings.external_plugins or {}
    if section.get("enabled") is not True:
        server.external = None
        return
    from pfs.external.loader import ExternalPlugins

    server.external = ExternalPlugins(server, section)
