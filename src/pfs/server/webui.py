"""The web file manager: ``/`` for browsers and its assets under ``/ui/`` (pfs.web's files).

The page and its assets need no token (they hold no data); the page itself calls the API with the
token the user types when the API answers 401. Assets are revalidated on every load (``no-cache``
with an ETag, answered 304 while unchanged), so an upgraded server never runs stale modules.
"""

from __future__ import annotations

from pfs.http.requests import Request
from pfs.http.responses import Response, StreamResponse, head_only, text_response
from pfs.web.assets import Asset, asset

_CACHE = (b"cache-control", b"no-cache")


def page() -> Response:
    index = asset("index.html")
    assert index is not None, "index.html ships with the package"
    return _answer(index, None)


class Assets:
    """The ``/ui/`` subtree: GET and HEAD of one asset by its bare name."""

    prefix = "/ui"

    def serves(self, path: str) -> bool:
        return path.startswith("/ui/")

    async def __call__(self, req: Request) -> Response | StreamResponse:
        if req.method not in ("GET", "HEAD"):
            return text_response(405, "405 method not allowed", [(b"allow", b"GET, HEAD")])
        found = asset(req.path[len("/ui/") :])
        if found is None:
            return text_response(404, "404 page not found")
        response = _answer(found, req.header(b"if-none-match"))
        return await head_only(response) if req.method == "HEAD" else response


def _answer(found: Asset, if_none_match: bytes | None) -> Response:
    headers = [_CACHE, (b"etag", found.etag), (b"x-content-type-options", b"nosniff")]
    if if_none_match is not None and found.etag in if_none_match:
        return Response(304, b"", found.content_type, headers)
    return Response(200, found.body, found.content_type, headers)
