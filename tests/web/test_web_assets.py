"""pfs.web's assets and sizes, in-process: what the server and httpfs take from the package."""

from __future__ import annotations

import pytest

from pfs.web.assets import asset, stylesheet
from pfs.web.sizes import human_size


@pytest.mark.parametrize(("size", "shown"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (2048, "2 KiB"),
    (3 << 20, "3 MiB"), (10 * (1 << 30) + (1 << 29), "10.5 GiB"), (1 << 60, "1024 PiB"),
])
def test_human_size(size, shown):
    assert human_size(size) == shown


def test_assets_have_their_types_and_stable_etags():
    page = asset("index.html")
    assert page is not None and page.content_type == b"text/html; charset=utf-8"
    script = asset("app.js")
    assert script is not None and script.content_type == b"text/javascript; charset=utf-8"
    assert script.etag.startswith(b'"') and script.etag == asset("app.js").etag
    assert script.etag != page.etag
    assert ".listing" in stylesheet()


@pytest.mark.parametrize("name", [
    "../assets.py", "static/app.js", "assets.py", "__init__.py", ".hidden.js", "missing.js",
    "", "app", "..\\\\app.js",
])
def test_names_outside_the_assets_are_none(name):
    assert asset(name) is None
