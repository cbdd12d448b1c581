"""queuefs: message queues as directories with control files (see ``plugin.py``)."""

from __future__ import annotations

from pfs.plugins.queuefs.plugin import QueueFS

__all__ = ["QueueFS"]
