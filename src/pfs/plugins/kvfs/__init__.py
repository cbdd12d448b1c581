"""kvfs: a key/value store as files under ``/keys`` (see ``plugin.py``)."""

from __future__ import annotations

from pfs.plugins.kvfs.plugin import KVFS

__all__ = ["KVFS"]
