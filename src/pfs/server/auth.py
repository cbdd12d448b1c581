"""Optional bearer-token auth with three roles: read (GET), write (+ changes), admin (+ mounts)."""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from pfs.server.http import Response, error_response


class Role(enum.IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class TokenEntry:
    token: str
    role: Role


_UNAUTHORIZED_HEADERS = [(b"www-authenticate", b'Bearer realm="pfs"')]


class Auth:
    def __init__(self, tokens: list[TokenEntry]) -> None:
        self._tokens = [(entry.token.encode(), entry.role) for entry in tokens]
        self.enabled = bool(tokens)

    def role_of(self, header: bytes | None) -> Role | None:
        if header is None:
            return None
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return None
        token = token.strip()
        found = None
        for known, role in self._tokens:
            # compare against every entry so timing does not reveal which prefix matched
            if hmac.compare_digest(known, token):
                found = role
        return found

    def check(self, header: bytes | None, needed: Role) -> Response | None:
        """None when allowed, else the 401/403 response."""
        role = self.role_of(header)
        if role is None:
            message = "authentication required: send 'Authorization: Bearer <token>'"
            if header is not None:
                message = "invalid token"
            return error_response(401, message, _UNAUTHORIZED_HEADERS)
        if role < needed:
            return error_response(
                403,
                f"permission denied: role '{role.name.lower()}' cannot do this "
                f"(needs '{needed.name.lower()}')",
            )
        return None
