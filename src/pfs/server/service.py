"""``/``: what answers here. JSON clients (AGFS's, and anything not asking for HTML) get the
service document ``{"service", "status", "version"}``; a browser (``Accept`` preferring
``text/html``) gets the web file manager (pfs.server.webui)."""

from __future__ import annotations

from pfs import __version__
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server import webui
from pfs.server.state import State

SERVICE = "PFS Server"


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header ranks ``text/html`` above JSON: listed, and before any
    ``application/json`` (browsers send ``text/html,...,*/*;q=0.8``; HTTP clients ``*/*``)."""
    accept = accept.lower()
    html = accept.find("text/html")
    if html < 0:
        return False
    json = accept.find("application/json")
    return json < 0 or html < json


async def root(state: State, req: Request) -> Response:
    if prefers_html((req.header(b"accept") or b"").decode("latin-1")):
        return webui.page()
    return json_response({"service": SERVICE, "status": "running", "version": __version__})
