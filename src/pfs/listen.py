"""Listening sockets that own their address: one server per ``host:port``.

Granian binds with SO_REUSEPORT, so a second pfs-server started on an address already in use
would bind too and the kernel would split connections between the two. Sockets made here use
SO_REUSEADDR (a restart is not blocked by connections in TIME_WAIT) but not SO_REUSEPORT: on Linux
nothing else can then bind the address while they are open, with or without SO_REUSEPORT, and
making one fails when anything already listens there. The server and httpfs both listen this way.
"""

from __future__ import annotations

import ipaddress
import socket

BACKLOG = 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP literal, ``[v6]`` or ``localhost``) only answers this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen_exclusive(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A socket listening on ``host:port`` (the first address ``host`` resolves to).

    Raises OSError: ``errno.EADDRINUSE`` when the address is taken. ``listen`` follows ``bind`` at
    once because two SO_REUSEADDR sockets may both bind a port nobody listens on yet and only the
    first ``listen`` wins: of two servers started at the same instant, one fails here.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it a response written in two parts (head,
        # then body) waits for the client's delayed ACK of the first, up to 40 ms (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock
