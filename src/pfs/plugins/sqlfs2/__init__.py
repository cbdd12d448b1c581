"""sqlfs2: a SQL console as files, in AGFS's session design (see ``plugin.py``)."""

from __future__ import annotations

from pfs.plugins.sqlfs2.plugin import SQLFS2

__all__ = ["SQLFS2"]
