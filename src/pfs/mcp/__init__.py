"""``pfs mcp``: PFS as Model Context Protocol tools (``pfs_ls``, ``pfs_cat``, ...)."""

from __future__ import annotations

from pfs.mcp.cli import main

__all__ = ["main"]
