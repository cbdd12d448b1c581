"""The server's ASGI app in this process, built as ``pfs-server`` builds it, for tests that talk
to it through ``httpx.ASGITransport`` (no socket, no subprocess)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pfs.server.app import App
from pfs.server.cli import build_app


@asynccontextmanager
async def running_app(config: dict[str, Any] | None) -> AsyncIterator[App]:
    """The app for ``config`` (the CLI's ``build_app``), started and stopped through the ASGI
    lifespan protocol as Granian and uvicorn do, so config mounts are made on the same path."""
    app = build_app(config)
    # Start-up chains stop-signal handlers (ending live streams); put the test runner's back.
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    try:
        await inbox.put({"type": "lifespan.startup"})
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"start-up failed: {started.get('message')}")
        try:
            yield app
        finally:
            await inbox.put({"type": "lifespan.shutdown"})
            stopped = await outbox.get()
            assert stopped["type"] == "lifespan.shutdown.complete", stopped
    finally:
        await lifespan
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


__all__ = ["running_app"]
