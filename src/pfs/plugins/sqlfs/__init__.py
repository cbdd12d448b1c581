"""sqlfs: files stored in SQLite or MySQL/TiDB (see ``plugin.py``)."""

from __future__ import annotations

from pfs.plugins.sqlfs.plugin import SQLFS

__all__ = ["SQLFS"]
