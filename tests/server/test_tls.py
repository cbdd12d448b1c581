"""HTTPS for the API (``server.tls``) with real certificates (trustme): the SDK, fsspec, the
shell and curl over https, an untrusted certificate refused by each, plain HTTP against the TLS
port and HTTPS against a plain one failing clearly, and bad certificate files stopping the
server."""

from __future__ import annotations

import os
import subprocess
import sys

import fsspec
import httpx
import pytest

from pfs.client import AsyncClient, Client, TLSError, Unavailable
from pfs.testing.server import ServerProcess
from tests.helpers.certs import Certs

MEMFS = {"memfs": {"enabled": True, "path": "/memfs"}}
PFS = [sys.executable, "-m", "pfs.shell.cli"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("tls"))


def tls_config(certs: Certs) -> dict:
    return {"server": {"tls": {"cert": str(certs.cert), "key": str(certs.key)}},
            "plugins": MEMFS}


@pytest.fixture(scope="module")
def server(certs):
    with ServerProcess(tls_config(certs), tls_ca=certs.ca) as proc:
        yield proc


def test_the_sdk_over_https(server, certs):
    assert server.url.startswith("https://")
    with Client(server.url, verify=str(certs.ca)) as client:
        client.write("/memfs/tls.txt", b"over tls")
        assert client.cat("/memfs/tls.txt") == b"over tls"


def test_the_ca_bundle_from_the_environment(server, certs, monkeypatch):
    monkeypatch.setenv("PFS_CA_BUNDLE", str(certs.ca))
    with Client(server.url) as client:
        assert client.health()["status"] == "healthy"


async def test_the_async_sdk_over_https(server, certs):
    async with AsyncClient(server.url, verify=str(certs.ca)) as client:
        await client.write("/memfs/async-tls.txt", b"async")
        assert await client.cat("/memfs/async-tls.txt") == b"async"


def test_an_untrusted_certificate_is_refused(server, certs):
    for verify in (str(certs.other_ca), None):  # another CA's bundle; the system's CAs
        with Client(server.url, verify=verify) as client, \
                pytest.raises(TLSError, match="is not trusted") as refused:
            client.health()
        assert "PFS_CA_BUNDLE" in str(refused.value)


def test_an_unreadable_ca_bundle_is_named(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(Exception, match=f"CA bundle {missing}: No such file"):
        Client("https://127.0.0.1:1", verify=str(missing))


def test_curl_over_https(server, certs):
    url = server.api + "/health"
    done = subprocess.run(["curl", "-sS", "--cacert", str(certs.ca), url],
                          capture_output=True, text=True)
    assert done.returncode == 0 and '"status":"healthy"' in done.stdout, done.stderr
    refused = subprocess.run(["curl", "-sS", url], capture_output=True, text=True)
    assert refused.returncode == 60, refused  # curl: peer certificate cannot be authenticated
    assert "certificate" in refused.stderr


def test_plain_http_to_the_tls_port_fails_clearly(server):
    plain = server.url.replace("https://", "http://")
    with Client(plain) as client, pytest.raises(Unavailable, match="use https://127.0.0.1"):
        client.health()
    with pytest.raises(httpx.HTTPError):
        httpx.get(plain + "/api/v1/health")
    done = subprocess.run(["curl", "-sS", plain + "/api/v1/health"], capture_output=True,
                          text=True)
    assert done.returncode != 0 and '"status"' not in done.stdout


def test_https_to_a_plain_server_fails_clearly(start_server):
    plain = start_server({"plugins": MEMFS})
    tls_url = plain.url.replace("http://", "https://")
    with Client(tls_url) as client, pytest.raises(TLSError, match="does not speak HTTPS"):
        client.health()


def test_the_shell_over_https(server, certs):
    env_free = dict(os.environ)  # no PFS_* (the clean_environ fixture)
    done = subprocess.run(
        [*PFS, "--server", server.url, "--ca-bundle", str(certs.ca), "ls", "/"],
        capture_output=True, text=True, env=env_free,
    )
    assert done.returncode == 0 and "memfs" in done.stdout, done.stderr
    done = subprocess.run([*PFS, "--server", server.url, "ls", "/"], capture_output=True,
                          text=True, env={**env_free, "PFS_CA_BUNDLE": str(certs.ca)})
    assert done.returncode == 0 and "memfs" in done.stdout, done.stderr
    refused = subprocess.run([*PFS, "--server", server.url, "ls", "/"], capture_output=True,
                             text=True, env=env_free)
    assert refused.returncode != 0 and "is not trusted" in refused.stderr


def test_metrics_over_https(server):
    response = httpx.get(server.url + "/metrics", verify=server.verify)
    assert response.status_code == 200 and "pfs_http_requests_total" in response.text


def test_uvicorn_serves_tls_too(certs):
    with ServerProcess(tls_config(certs), tls_ca=certs.ca,
                       extra_args=["--server", "uvicorn"]) as srv:
        assert httpx.get(srv.api + "/health", verify=srv.verify).json()["status"] == "healthy"


@pytest.mark.parametrize(("tls", "message"), [
    ("cert.pem", "server.tls: must be a mapping with 'cert' and 'key' (PEM file paths)"),
    ({"cert": "{cert}"}, "server.tls.key: must be the path of a PEM file"),
    ({"cert": "{cert}", "key": "{key}", "ca": "x"},
     "server.tls: unknown key(s) ca (allowed: cert, key)"),
    ({"cert": "/nonexistent.pem", "key": "{key}"},
     "server.tls.cert: cannot read /nonexistent.pem: No such file or directory"),
    ({"cert": "{key}", "key": "{key}"}, "server.tls.cert: {key} holds no PEM certificate"),
    ({"cert": "{cert}", "key": "{cert}"}, "server.tls.key: {cert} holds no PEM private key"),
    ({"cert": "{cert}", "key": "{other_key}"},
     "server.tls: the key {other_key} does not go with the certificate {cert} "
     "(KEY_VALUES_MISMATCH)"),
])
def test_bad_tls_files_stop_the_server_in_one_line(certs, tls, message):
    files = {"cert": certs.cert, "key": certs.key, "other_key": certs.other_key}
    if isinstance(tls, dict):
        tls = {name: value.format(**files) for name, value in tls.items()}
    with pytest.raises(RuntimeError, match="pfs-server exited 2") as failed:
        ServerProcess({"server": {"tls": tls}, "plugins": MEMFS})
    errors = [line for line in str(failed.value).splitlines() if line.startswith("pfs-server:")]
    assert errors == [f"pfs-server: {message.format(**files)}"]


def test_fsspec_over_https(server, certs):
    fs = fsspec.filesystem("pfs", base_url=server.url, verify=str(certs.ca),
                           skip_instance_cache=True)
    fs.pipe_file("/memfs/fsspec-tls.txt", b"fsspec over tls")
    assert fs.cat_file("/memfs/fsspec-tls.txt") == b"fsspec over tls"
