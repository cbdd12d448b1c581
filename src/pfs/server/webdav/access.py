"""Who a WebDAV request comes from: the server's tokens, sent as a bearer token or as the
password of basic auth (the user name is ignored), since WebDAV clients (Finder, Explorer,
davfs2) only know how to send user and password."""

from __future__ import annotations

import base64
import binascii

from pfs.http.responses import Response, text_response
from pfs.server.auth import Auth, Role

#: Asking for basic auth makes clients prompt for a password (the token); bearer stays valid.
_CHALLENGE = [(b"www-authenticate", b'Basic realm="pfs", charset="UTF-8"')]


def bearer_header(header: bytes | None) -> bytes | None:
    """``header`` as ``Bearer <token>``: basic auth's password is the token."""
    if header is None:
        return None
    scheme, _, rest = header.partition(b" ")
    if scheme.lower() != b"basic":
        return header
    try:
        decoded = base64.b64decode(rest.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b"Bearer -"
    return b"Bearer " + decoded.partition(b":")[2]


def check(auth: Auth, header: bytes | None, needed: Role) -> Response | None:
    """None when the caller may do what needs ``needed``, else the 401/403 answer."""
    if not auth.enabled:
        return None  # what the API allows without tokens: reads and writes
    role = auth.role_of(bearer_header(header))
    if role is None:
        message = "authentication required: the password (or bearer token) is a server token"
        if header is not None:
            message = "invalid token"
        return text_response(401, message, _CHALLENGE)
    if role < needed:
        return text_response(
            403,
            f"permission denied: role '{role.name.lower()}' cannot do this "
            f"(needs '{needed.name.lower()}')",
        )
    return None
