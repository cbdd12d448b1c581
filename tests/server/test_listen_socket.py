"""The server's listening socket: connections it accepts send small writes at once (no Nagle)."""

from __future__ import annotations

import socket

from pfs.listen import listen_exclusive


def test_accepted_connections_have_nodelay():
    listener = listen_exclusive("127.0.0.1", 0)
    try:
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        with client, accepted:
            # A response written as head then body would otherwise wait for the client's
            # delayed ACK of the head (tens of ms per request on keep-alive connections).
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
