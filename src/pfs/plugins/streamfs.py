"""streamfs: live fan-out streams (the stream core is :mod:`pfs.plugins.streams`)."""

from __future__ import annotations

from typing import Any

from pfs.fs import Field
from pfs.plugins.streams import DEFAULT_BUFFER, MAX_BUFFER, MIN_BUFFER, LiveStreams, buffer_fields


class StreamFS(LiveStreams):
    fstype = "streamfs"
    config_schema = (
        *buffer_fields(),
        Field(
            "buffer_size",
            "size",
            min=MIN_BUFFER,
            max=MAX_BUFFER,
            help="sets both sizes above where they are left at their default "
            "(the original README's key)",
        ),
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        shared = config.get("buffer_size")
        if shared:
            if self.channel_limit == DEFAULT_BUFFER:
                self.channel_limit = shared
            if self.ring_limit == DEFAULT_BUFFER:
                self.ring_limit = shared
        self.readme = self.load_readme("pfs.plugins.docs", "streamfs.md").encode()
