"""Client profiles (~/.config/pfs/client.yaml, --profile, $PFS_PROFILE) and host:port servers,
through the real ``pfs`` command against real servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from pfs.client.profile import Profile, ProfileError, load_profile, resolve

TOKEN = "profile-secret-token"
CONFIG = {
    "server": {"auth": {"tokens": [{"token": TOKEN, "role": "admin"}]}},
    "plugins": {"memfs": {"enabled": True, "path": "/authed"}},
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from pfs.testing.server import ServerProcess

    with ServerProcess({"plugins": {"memfs": {"enabled": True, "path": "/open"}}}) as open_, \
            ServerProcess(CONFIG) as authed:
        yield open_, authed


def pfs(args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PFS_")}
    done = subprocess.run([sys.executable, "-m", "pfs.shell.cli", *args], capture_output=True,
                          text=True, env={**environ, **env}, timeout=60)
    return done


def write_profiles(tmp_path, open_, authed, default=None):
    path = tmp_path / "client.yaml"
    data = {"profiles": {
        "open": {"server": f"127.0.0.1:{open_.port}"},  # host:port, no scheme
        "authed": {"server": authed.url, "token_env": "MY_PFS_TOKEN"},
    }}
    if default:
        data["default"] = default
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_a_named_profile_picks_the_server_and_its_token(servers, tmp_path):
    open_, authed = servers
    config = write_profiles(tmp_path, open_, authed)
    done = pfs(["--profile", "authed", "ls", "/"], PFS_CLIENT_CONFIG=config, MY_PFS_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    assert "authed" in done.stdout
    done = pfs(["ls", "/"], PFS_CLIENT_CONFIG=config, PFS_PROFILE="open")
    assert done.returncode == 0 and "open" in done.stdout, done.stderr


def test_the_default_profile_yields_to_the_environment_a_named_one_does_not(servers, tmp_path):
    open_, authed = servers
    config = write_profiles(tmp_path, open_, authed, default="open")
    assert "open" in pfs(["ls", "/"], PFS_CLIENT_CONFIG=config).stdout
    via_env = pfs(["ls", "/"], PFS_CLIENT_CONFIG=config, PFS_API_URL=authed.url, PFS_TOKEN=TOKEN)
    assert "authed" in via_env.stdout, via_env.stderr
    named = pfs(["--profile", "open", "ls", "/"], PFS_CLIENT_CONFIG=config,
                PFS_API_URL=authed.url)
    assert "open" in named.stdout, named.stderr
    flag = pfs(["--server", f"127.0.0.1:{open_.port}", "--profile", "authed", "ls", "/"],
               PFS_CLIENT_CONFIG=config)
    assert "open" in flag.stdout, flag.stderr


def test_an_unknown_profile_is_one_line_and_exit_2(servers, tmp_path):
    open_, authed = servers
    config = write_profiles(tmp_path, open_, authed)
    done = pfs(["--profile", "nope", "ls", "/"], PFS_CLIENT_CONFIG=config)
    assert done.returncode == 2
    assert done.stderr.strip() == f"pfs: no profile 'nope' in {config} (profiles: authed, open)"
    missing = tmp_path / "missing.yaml"
    done = pfs(["--profile", "x", "ls", "/"], PFS_CLIENT_CONFIG=str(missing))
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_bad_profile_files_are_refused_with_where_and_why(tmp_path):
    path = tmp_path / "client.yaml"
    env = {"PFS_CLIENT_CONFIG": str(path)}
    path.write_text("profiles: {a: {server: x, passwd: y}}\ndefault: a\n")
    with pytest.raises(ProfileError, match="unknown keys passwd"):
        load_profile(None, env)
    path.write_text("[1, 2]")
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profile(None, env)
    path.write_text("profiles: [a]")
    with pytest.raises(ProfileError, match="'profiles' must map"):
        load_profile("a", env)
    path.write_text("default: a\nprofiles: {a: {server: 'h:1', token: t}}")
    assert load_profile(None, env) == Profile("h:1", "t", named=False)
    assert resolve(None, None, Profile("h:1", "t"), {"PFS_API_URL": "e:2"}) == ("e:2", "t")
    assert resolve(None, None, Profile("h:1", "t", named=True), {"PFS_API_URL": "e:2"}) == (
        "h:1", "t")


def test_a_profile_carries_the_ca_bundle_of_an_https_server(tmp_path):
    from pfs.testing.server import ServerProcess
    from tests.helpers.certs import Certs

    certs = Certs(tmp_path)
    tls = {"cert": str(certs.cert), "key": str(certs.key)}
    config = tmp_path / "client.yaml"
    with ServerProcess({"server": {"tls": tls}, "plugins": {"memfs": {
            "enabled": True, "path": "/secure"}}}, tls_ca=certs.ca) as server:
        config.write_text(yaml.safe_dump({"profiles": {
            "lab": {"server": server.url, "ca_bundle": str(certs.ca)},
            "wrong": {"server": server.url, "ca_bundle": str(certs.other_ca)},
        }}))
        done = pfs(["--profile", "lab", "ls", "/"], PFS_CLIENT_CONFIG=str(config))
        assert done.returncode == 0 and "secure" in done.stdout, done.stderr
        refused = pfs(["--profile", "wrong", "ls", "/"], PFS_CLIENT_CONFIG=str(config))
        assert refused.returncode != 0 and "is not trusted" in refused.stderr
        # --ca-bundle wins over the profile's
        done = pfs(["--profile", "wrong", "--ca-bundle", str(certs.ca), "ls", "/"],
                   PFS_CLIENT_CONFIG=str(config))
        assert done.returncode == 0 and "secure" in done.stdout, done.stderr
