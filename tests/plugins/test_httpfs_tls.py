"""httpfs over HTTPS (``tls_cert``/``tls_key``, uvicorn's TLS) with real certificates: files
served to a client that trusts the CA, refused by one that does not, plain HTTP failing; bad
key files refuse the mount with the key named."""

from __future__ import annotations

import ssl

import httpx
import pytest

from pfs.testing.fixtures import MEMFS_ONLY, server_fixture
from pfs.testing.server import free_port
from tests.helpers.certs import Certs

server = server_fixture(MEMFS_ONLY)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("httpfs-tls"))


def mount(api, certs: Certs, **tls: str) -> tuple[httpx.Response, str, int]:
    port = free_port()
    path = f"/web-{port}"
    config = {"pfs_path": "/memfs", "port": port, **tls}
    return api.post("/mount", json={"fstype": "httpfs", "path": path, "config": config}), \
        path, port


def test_httpfs_serves_https(api, certs):
    api.put("/files", params={"path": "/memfs/page.txt"}, content=b"secure page")
    answer, path, port = mount(api, certs, tls_cert=str(certs.cert), tls_key=str(certs.key))
    assert answer.status_code == 200, answer.text
    try:
        url = f"https://127.0.0.1:{port}/page.txt"
        got = httpx.get(url, verify=ssl.create_default_context(cafile=certs.ca))
        assert got.status_code == 200 and got.content == b"secure page"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, verify=ssl.create_default_context(cafile=certs.other_ca))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/page.txt")
        status = api.get("/files", params={"path": path}).text
        assert f"HTTP Endpoint:   https://127.0.0.1:{port}" in status
    finally:
        api.post("/unmount", json={"path": path})


@pytest.mark.parametrize(("tls", "message"), [
    ({"tls_cert": "{cert}"}, "httpfs: tls_cert and tls_key go together: give both or neither"),
    ({"tls_cert": "/nonexistent.pem", "tls_key": "{key}"},
     "httpfs: tls_cert: cannot read /nonexistent.pem: No such file or directory"),
    ({"tls_cert": "{cert}", "tls_key": "{cert}"},
     "httpfs: tls_key: {cert} holds no PEM private key"),
    ({"tls_cert": "{cert}", "tls_key": "{other_key}"},
     "httpfs: tls_cert/tls_key: the key {other_key} does not go with the certificate {cert} "
     "(KEY_VALUES_MISMATCH)"),
])
def test_bad_tls_files_refuse_the_mount(api, certs, tls, message):
    files = {"cert": certs.cert, "key": certs.key, "other_key": certs.other_key}
    answer, path, _ = mount(api, certs, **{k: v.format(**files) for k, v in tls.items()})
    assert answer.status_code == 400
    assert answer.json()["error"] == "failed to initialize plugin: " + message.format(**files)
    assert api.get("/stat", params={"path": path}).status_code == 404
