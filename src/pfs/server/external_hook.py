"""Where the external-plugin loader attaches to a server (native .so, WASM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pfs.server.app import Server


def attach_external(server: Server) -> None:
    """Run-time loading answers 501 until an external loader is configured."""
    server.external = None
