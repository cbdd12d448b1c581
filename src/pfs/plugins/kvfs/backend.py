"""What every kvfs back end provides (memory, sqlite, mysql), and the limits the SQL ones share.

Every operation is atomic on its own; ``update`` is the read-modify-write used by writes with
offsets and flags, so two servers sharing a SQL back end never interleave halves of two writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from pfs.fs import AlreadyExists, InvalidArgument, NotFound, NotSupported

#: ``update``'s function: the old value (None: no such key) → the new value (or raises).
Updater = Callable[[bytes | None], bytes]
#: A key's size and version (None: no such key).
State = tuple[int, str] | None
#: A conditional change's check of the state it applies to: raises to change nothing.
Guard = Callable[[State], None]


def new_version() -> str:
    """The version a value gets with every write (a value written by a server that keeps no
    versions, as the original, has none: read as ``"0"``)."""
    return secrets.token_hex(8)


class KVBackend:
    """Storage of kvfs's pairs: keys are the paths below ``/keys/``, values are bytes."""

    #: Whether keys can expire (``ttl`` / ``set_ttl`` work): the plugin then serves ``/ttl``.
    expires = False

    async def start(self, initial: dict[str, bytes]) -> None:
        """Open the back end; ``initial`` keys are set only where the key does not exist yet."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def size(self, key: str) -> int | None:
        """The length of ``key``'s value (None: no such key), without reading the value."""
        raise NotImplementedError

    async def state(self, key: str) -> State:
        """``key``'s size and version, without reading the value."""
        raise NotImplementedError

    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        """Replace ``key``'s value with ``fn(old)`` and give it a new version; ``incoming`` is
        the size of the data the new value is made from (a SQL back end runs a large update
        off the event loop). ``guard`` first sees the old state in the same transaction."""
        raise NotImplementedError

    async def delete_if(self, key: str, guard: Guard) -> None:
        """Delete ``key`` if ``guard`` (seeing its state in the same transaction) lets it."""
        raise NotImplementedError

    async def create(self, key: str) -> None:
        """Create ``key`` with an empty value. Raises AlreadyExists."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Raises NotFound."""
        raise NotImplementedError

    async def clear(self) -> None:
        raise NotImplementedError

    async def sizes(self) -> list[tuple[str, int]]:
        """Every key with the length of its value."""
        raise NotImplementedError

    async def rename(self, old: str, new: str) -> None:
        """Raises NotFound (old), AlreadyExists (new)."""
        raise NotImplementedError

    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires (None: never). Raises NotFound; NotSupported on back
        ends whose keys never expire."""
        raise NotSupported("kvfs: keys expire only on the redis backend (ttl is not supported)")

    async def set_ttl(self, key: str, seconds: float) -> None:
        """Expire ``key`` in ``seconds`` (0: never). Raises NotFound, NotSupported."""
        raise NotSupported("kvfs: keys expire only on the redis backend (ttl is not supported)")


def key_not_found(key: str) -> NotFound:
    return NotFound(f"key not found: {key}")


def key_exists(key: str) -> AlreadyExists:
    return AlreadyExists(f"key already exists: {key}")


#: Longest key (characters) the MySQL primary key can index together with the namespace.
MAX_KEY_CHARS = 575
MAX_NAMESPACE_CHARS = 191


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        raise InvalidArgument(f"invalid key: longer than {MAX_KEY_CHARS} characters ({len(key)})")
    return key


def check_namespace(namespace: str) -> str:
    if not namespace or len(namespace) > MAX_NAMESPACE_CHARS:
        raise InvalidArgument(
            f"kvfs: config key 'namespace' must be 1 to {MAX_NAMESPACE_CHARS} characters"
        )
    return namespace
