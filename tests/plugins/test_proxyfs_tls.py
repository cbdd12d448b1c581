"""proxyfs to a remote served over HTTPS (trustme certificates): the remote's CA given with
``ca_bundle`` is trusted, anything else refuses the mount (as any remote it cannot connect to),
and an unreadable bundle is a config error."""

from __future__ import annotations

import httpx
import pytest

from pfs.testing.server import ServerProcess
from tests.helpers.certs import Certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("proxyfs-tls"))


@pytest.fixture(scope="module")
def remote(certs):
    config = {"server": {"tls": {"cert": str(certs.cert), "key": str(certs.key)}},
              "plugins": {"memfs": {"enabled": True, "path": "/m"}}}
    with ServerProcess(config, tls_ca=certs.ca) as proc:
        httpx.put(proc.api + "/files?path=/m/x", content=b"remote data", verify=proc.verify)
        yield proc


@pytest.fixture(scope="module")
def server():
    with ServerProcess({"plugins": {"memfs": {"enabled": True, "path": "/local"}}}) as proc:
        yield proc


def mount(api, config: dict) -> httpx.Response:
    return api.post("/mount", json={"fstype": "proxyfs", "path": "/remote", "config": config})


def test_the_remotes_ca_is_trusted(api, remote, certs):
    answer = mount(api, {"base_url": remote.url, "ca_bundle": str(certs.ca)})
    assert answer.status_code == 200, answer.text
    try:
        assert api.get("/files", params={"path": "/remote/m/x"}).content == b"remote data"
        assert api.put("/files", params={"path": "/remote/m/y"}, content=b"via proxy").status_code \
            == 200
        assert httpx.get(remote.api + "/files?path=/m/y", verify=remote.verify).content \
            == b"via proxy"
    finally:
        api.post("/unmount", json={"path": "/remote"})


@pytest.mark.parametrize("ca", ["other", "system"])
def test_an_untrusted_remote_refuses_the_mount(api, remote, certs, ca):
    config = {"base_url": remote.url}
    if ca == "other":
        config["ca_bundle"] = str(certs.other_ca)
    answer = mount(api, config)
    assert answer.status_code == 503
    # One message for every failure to connect (mounts must not scan ports); the log has more.
    assert answer.json()["error"] == (
        f"failed to initialize plugin: failed to connect to remote PFS server at {remote.url}: "
        "cannot connect"
    )


def test_an_unreadable_ca_bundle_is_a_config_error(api, remote, tmp_path):
    missing = tmp_path / "nope.pem"
    answer = mount(api, {"base_url": remote.url, "ca_bundle": str(missing)})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        f"failed to initialize plugin: proxyfs: ca_bundle {missing}: No such file or directory"
    )
