"""Which local user is on the other end of a loopback TCP connection (Linux).

The kernel lists every TCP socket of this network namespace, with the uid that created it, in
/proc/net/tcp and /proc/net/tcp6. The peer's own socket is the one whose local address is the
peer's (address, port) and whose remote port is the server's; its uid is the peer's user.
"""

from __future__ import annotations

import ipaddress
import struct

_IPV4_TABLE = "/proc/net/tcp"
_IPV6_TABLE = "/proc/net/tcp6"
#: States that are no live connection: TIME_WAIT entries report uid 0 whoever owned them.
_NOT_CONNECTED = {"06", "0A"}  # TIME_WAIT, LISTEN
_UID_COLUMN = 7


def _kernel_hex(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address as the kernel prints it: each 32-bit word of the packed address read in
    host byte order, as 8 hex digits."""
    packed = ip.packed
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words)


def _where_to_look(host: str, port: int) -> list[tuple[str, str]]:
    """(table, local_address column) pairs where the peer's socket can be listed.

    An IPv4 peer may own an IPv4 socket or a dual-stack IPv6 socket (seen as ::ffff:a.b.c.d)."""
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    suffix = f":{port:04X}"
    if isinstance(ip, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
        return [
            (_IPV4_TABLE, _kernel_hex(ip) + suffix),
            (_IPV6_TABLE, _kernel_hex(mapped) + suffix),
        ]
    return [(_IPV6_TABLE, _kernel_hex(ip) + suffix)]


def is_loopback(host: str) -> bool:
    """Whether a peer address is loopback, also in the ::ffff:127.x form a dual-stack server
    reports (which ``ipaddress`` before 3.13 does not call loopback)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def tcp_peer_uid(peer_host: str, peer_port: int, server_port: int) -> int | None:
    """The uid owning the connected socket at (peer_host, peer_port) that talks to
    ``server_port``; None when no such socket is listed (another namespace, not Linux).

    Reads files: call it off the event loop."""
    remote_suffix = f":{server_port:04X}"
    for table, local in _where_to_look(peer_host, peer_port):
        try:
            with open(table, encoding="ascii") as lines:
                for line in lines:
                    if local not in line:
                        continue
                    fields = line.split()
                    if (
                        fields[1] == local
                        and fields[2].endswith(remote_suffix)
                        and fields[3] not in _NOT_CONNECTED
                    ):
                        return int(fields[_UID_COLUMN])
        except OSError:
            continue
    return None
