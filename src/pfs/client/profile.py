"""Client profiles: named servers and tokens kept in ``~/.config/pfs/client.yaml``.

    default: local                 # used when no profile is named
    profiles:
      local: {server: localhost:8080}
      prod:  {server: https://pfs.example.com, token_env: PFS_PROD_TOKEN}
      lab:   {server: https://10.0.0.5:8443, ca_bundle: ~/lab-ca.pem}   # a private CA

Precedence: ``--server``/``--token``, then a profile named by ``--profile`` or ``$PFS_PROFILE``,
then ``$PFS_API_URL``/``$PFS_TOKEN``, then the file's ``default`` profile, then localhost:8080.
A profile's ``ca_bundle`` is used unless ``--ca-bundle`` is given (``$PFS_CA_BUNDLE`` only when
neither is). ``$PFS_CLIENT_CONFIG`` names another file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_KEYS = frozenset({"server", "token", "token_env", "ca_bundle"})


class ProfileError(ValueError):
    """The profile file or the named profile is unusable; the message says why and where."""


@dataclass(frozen=True, slots=True)
class Profile:
    server: str | None = None
    token: str | None = None
    named: bool = False  # chosen by --profile/$PFS_PROFILE rather than the file's default
    #: CA certificates (PEM) the server's https certificate is checked with.
    ca_bundle: str | None = None


def profile_path(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get("PFS_CLIENT_CONFIG"):
        return Path(environ["PFS_CLIENT_CONFIG"])
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "pfs" / "client.yaml"


def _read(path: Path) -> dict[str, Any]:
    import yaml  # only when a profile file exists: one-shot ``pfs`` calls start faster

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not set(data) <= {"default", "profiles"}:
        raise ProfileError(f"{path}: expected a mapping with 'default' and 'profiles'")
    if not isinstance(data.get("profiles") or {}, dict):
        raise ProfileError(f"{path}: 'profiles' must map names to settings")
    return data


def load_profile(name: str | None = None, environ: Mapping[str, str] = os.environ) -> Profile:
    """The profile ``name`` (else ``$PFS_PROFILE``, else the file's default); an empty Profile
    when none is configured. Raises ProfileError for a named profile that does not exist."""
    name = name or environ.get("PFS_PROFILE") or None
    path = profile_path(environ)
    if not path.exists():
        if name:
            raise ProfileError(f"profile {name!r}: {path} does not exist")
        return Profile()
    data = _read(path)
    profiles: dict[str, Any] = data.get("profiles") or {}
    chosen = name or data.get("default")
    if not chosen:
        return Profile()
    entry = profiles.get(chosen)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(f"no profile {chosen!r} in {path} (profiles: {known})")
    unknown = set(entry) - PROFILE_KEYS
    if unknown:
        raise ProfileError(
            f"profile {chosen!r} in {path}: unknown keys {', '.join(sorted(unknown))} "
            f"(allowed: {', '.join(sorted(PROFILE_KEYS))})"
        )
    token = entry.get("token")
    if token is None and entry.get("token_env"):
        token = environ.get(str(entry["token_env"]))
    server = entry.get("server")
    ca_bundle = entry.get("ca_bundle")
    return Profile(
        str(server) if server else None,
        str(token) if token else None,
        bool(name),
        os.path.expanduser(str(ca_bundle)) if ca_bundle else None,
    )


def resolve(
    server: str | None,
    token: str | None,
    profile: Profile,
    environ: Mapping[str, str] = os.environ,
) -> tuple[str | None, str | None]:
    """(server, token) after the precedence above; None leaves the SDK's own default."""
    if profile.named:
        return server or profile.server or environ.get("PFS_API_URL"), (
            token or profile.token or environ.get("PFS_TOKEN")
        )
    return server or environ.get("PFS_API_URL") or profile.server, (
        token or environ.get("PFS_TOKEN") or profile.token
    )
