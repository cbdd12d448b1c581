"""Optional bearer-token auth with three roles: read (GET), write (+ changes), admin (+ mounts).

Without tokens, admin operations (mount, unmount, plugin loading) still are not open to everyone:
a mount of localfs at / would hand any local user the server's files. They are accepted from the
peers ``server.admin_without_auth`` names, by default the server's own user on this machine.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import os
from dataclasses import dataclass
from typing import Any

from pfs.http.responses import Response, error_response
from pfs.server.peer_owner import is_loopback, tcp_peer_uid


class Role(enum.IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class TokenEntry:
    token: str
    role: Role


class AdminWithoutAuth(enum.StrEnum):
    """Who may mount, unmount and load plugins when no tokens are configured."""

    OWNER = "owner"  # loopback peers running as the server's own user
    LOCAL = "local"  # any loopback peer (every user of this machine)
    ANYONE = "anyone"  # every peer (the original's behaviour)


_UNAUTHORIZED_HEADERS = [(b"www-authenticate", b'Bearer realm="pfs"')]
_HOW_TO_ALLOW = (
    "configure server.auth.tokens and send an admin token, or set server.admin_without_auth"
)


class Auth:
    def __init__(
        self,
        tokens: list[TokenEntry],
        admin_without_auth: AdminWithoutAuth = AdminWithoutAuth.OWNER,
    ) -> None:
        self._tokens = [(entry.token.encode(), entry.role) for entry in tokens]
        self.enabled = bool(tokens)
        self.admin_without_auth = admin_without_auth

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

    async def check_admin_peer(self, scope: dict[str, Any]) -> Response | None:
        """Without tokens: None when the connection's peer may do admin operations, else 403."""
        policy = self.admin_without_auth
        if policy is AdminWithoutAuth.ANYONE:
            return None
        client, server = scope.get("client"), scope.get("server")
        if not client or not server or not is_loopback(client[0]):
            return _admin_denied(
                f"without auth, admin operations are accepted only over loopback "
                f"(server.admin_without_auth: {policy})"
            )
        if policy is AdminWithoutAuth.LOCAL:
            return None
        # ASGI servers differ in giving ports as int or str
        uid = await asyncio.to_thread(tcp_peer_uid, client[0], int(client[1]), int(server[1]))
        if uid != os.geteuid():
            found = "cannot be told" if uid is None else f"is uid {uid}"
            return _admin_denied(
                f"without auth, admin operations are accepted only from the user running the "
                f"server (uid {os.geteuid()}); this connection's user {found}"
            )
        return None


def _admin_denied(reason: str) -> Response:
    return error_response(403, f"permission denied: {reason}; to allow others, {_HOW_TO_ALLOW}")
