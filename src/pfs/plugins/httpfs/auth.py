"""Who may read through httpfs: a bearer token, HTTP basic credentials, either, or anyone."""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass
from typing import Any

from pfs.fs import InvalidArgument


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client must send in ``Authorization``: either accepted form; none set: nothing."""

    token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None

    def __bool__(self) -> bool:
        return self.token is not None or self.basic_user is not None

    def allow(self, header: str) -> bool:
        """Whether the ``Authorization`` header's value (empty when none was sent) is accepted."""
        if not self:
            return True
        scheme, _, value = header.partition(" ")
        sent = value.strip().encode("latin-1")  # the header's bytes as received
        scheme = scheme.lower()
        if scheme == "bearer" and self.token is not None:
            return hmac.compare_digest(sent, self.token.encode())
        if scheme == "basic" and self.basic_user is not None:
            pair = f"{self.basic_user}:{self.basic_password}".encode()
            return hmac.compare_digest(sent, base64.b64encode(pair))
        return False

    def challenges(self) -> list[tuple[bytes, bytes]]:
        """``WWW-Authenticate`` headers of a 401, one per accepted scheme."""
        offered = []
        if self.token is not None:
            offered.append((b"www-authenticate", b'Bearer realm="httpfs"'))
        if self.basic_user is not None:
            offered.append((b"www-authenticate", b'Basic realm="httpfs", charset="UTF-8"'))
        return offered

    def describe(self) -> str:
        kinds = []
        if self.token is not None:
            kinds.append("bearer token")
        if self.basic_user is not None:
            kinds.append(f"basic (user {self.basic_user})")
        return " or ".join(kinds) or "none (anyone who can reach it reads the files)"


def credentials(config: dict[str, Any]) -> Credentials:
    """The credentials a validated httpfs config asks for; InvalidArgument for a contradictory
    or incomplete one."""
    token = _secret(config, "token", "token_env")
    user = config.get("basic_user")
    password = _secret(config, "basic_password", "basic_password_env")
    if (user is None) != (password is None):
        raise InvalidArgument("httpfs: basic_user and basic_password go together")
    if user is not None and (not user or ":" in user):
        raise InvalidArgument("httpfs: basic_user must be non-empty and without ':'")
    return Credentials(token, user, password)


def _secret(config: dict[str, Any], key: str, env_key: str) -> str | None:
    """``config[key]``, or the environment variable named by ``config[env_key]``.

    An empty ``key`` arrives as None (unset) from config validation; an empty or missing variable
    is refused, so a typo in ``env_key`` never silently turns auth off.
    """
    value, env = config.get(key), config.get(env_key)
    if value is not None and env is not None:
        raise InvalidArgument(f"httpfs: give {key} or {env_key}, not both")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise InvalidArgument(f"httpfs: {env_key}: environment variable {env} is empty")
    return value
