"""``/health``, ``/ready``, ``/version`` and ``/metrics``: is the server up, are its start-up
mounts, which build is it, and how it is doing (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from pfs.http.requests import Request
from pfs.http.responses import Response, error_response, json_response
from pfs.server.metrics import CONTENT_TYPE
from pfs.server.state import State
from pfs.version import version_info


def health_info(state: State) -> dict[str, Any]:
    """The original's ``status`` and build fields, then how the start-up mounts are doing:
    ``starting`` while one is pending, ``degraded`` once one failed, else ``healthy``."""
    counts = state.mounting.counts()
    degraded = counts["failed"] > 0
    ready = not degraded and counts["pending"] == 0
    status = "degraded" if degraded else "healthy" if ready else "starting"
    return {
        "status": status,
        **version_info(),
        "ready": ready,
        "degraded": degraded,
        "mounts": counts,
    }


async def health(state: State, req: Request) -> Response:
    """Always 200 while the server answers (liveness)."""
    return json_response(health_info(state))


async def ready(state: State, req: Request) -> Response:
    """200 once every start-up mount is mounted, 503 while one is pending or failed."""
    if req.method != "GET":
        return error_response(405, "method not allowed", [(b"allow", b"GET")])
    info = health_info(state)
    return json_response(info, 200 if info["ready"] else 503)


async def version(state: State, req: Request) -> Response:
    if req.method != "GET":
        return error_response(405, "method not allowed", [(b"allow", b"GET")])
    return json_response(dict(sorted(version_info().items())))


async def metrics(state: State, req: Request) -> Response:
    """The Prometheus text format (``server.metrics: false``: 404)."""
    if state.metrics is None:
        return error_response(404, "metrics are off (server.metrics: false)")
    # Off the loop: the text grows with the mounts and queues (a few ms for 1,000 queues).
    text = await asyncio.to_thread(state.metrics.render)
    return Response(200, text, CONTENT_TYPE.encode())
