"""Upload bodies of writes that change a file in place (offset and append writes), staged.

A plugin applies such a write piece by piece as the body arrives, so a client that left half
way would leave half its data in the file. The server takes the whole body first — in memory up
to 1 MiB, beyond that in an unnamed temporary file written and read on a worker thread — and
hands it to the plugin only once it is complete: an abandoned upload changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from typing import IO

#: Body bytes kept in memory before staging moves to disk; also the size of each disk write
#: and of each piece handed to the plugin.
SPOOL_MEMORY = 1 << 20


@contextlib.asynccontextmanager
async def staged(chunks: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """The complete body of ``chunks`` as a new iterator of pieces; the staging file is gone
    when the block ends."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
        batch: list[bytes] = []
        batched = 0
        spooled = False
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            if batched >= SPOOL_MEMORY:
                # Past the in-memory share: this write moves the spool to disk, on a thread.
                await asyncio.to_thread(spool.write, b"".join(batch))
                batch, batched, spooled = [], 0, True
        if not spooled:
            yield _replay(batch)
            return
        if batch:
            await asyncio.to_thread(spool.write, b"".join(batch))
        await asyncio.to_thread(spool.seek, 0)
        pieces = _read_back(spool)
        try:
            yield pieces
        finally:
            await pieces.aclose()


async def _replay(batch: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in batch:
        yield chunk


async def _read_back(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while piece := await asyncio.to_thread(spool.read, SPOOL_MEMORY):
        yield piece
