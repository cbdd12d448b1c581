"""Where kvfs keeps its pairs: the store interface and the in-memory store (the original's map).

Every operation is atomic on its own; ``update`` is the read-modify-write used by writes with
offsets and flags, so two servers sharing a SQL store never interleave halves of two writes.
"""

from __future__ import annotations

from collections.abc import Callable

from pfs.fs import AlreadyExists, NotFound

#: ``update``'s function: the old value (None: no such key) → the new value (or raises).
Updater = Callable[[bytes | None], bytes]


class KVStore:
    name = "memory"

    async def start(self, initial: dict[str, bytes]) -> None:
        """Open the store; ``initial`` keys are set only where the key does not exist yet."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def size(self, key: str) -> int | None:
        """The length of ``key``'s value (None: no such key), without reading the value."""
        raise NotImplementedError

    async def update(self, key: str, fn: Updater, incoming: int = 0) -> None:
        """Replace ``key``'s value with ``fn(old)``; ``incoming`` is the size of the data the
        new value is made from (a SQL store runs a large update off the event loop)."""
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


def key_not_found(key: str) -> NotFound:
    return NotFound(f"key not found: {key}")


def key_exists(key: str) -> AlreadyExists:
    return AlreadyExists(f"key already exists: {key}")


class MemoryStore(KVStore):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def start(self, initial: dict[str, bytes]) -> None:
        self.data.update(initial)

    async def close(self) -> None:
        self.data.clear()

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def size(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else len(value)

    async def update(self, key: str, fn: Updater, incoming: int = 0) -> None:
        self.data[key] = fn(self.data.get(key))

    async def create(self, key: str) -> None:
        if key in self.data:
            raise key_exists(key)
        self.data[key] = b""

    async def delete(self, key: str) -> None:
        if self.data.pop(key, None) is None:
            raise key_not_found(key)

    async def clear(self) -> None:
        self.data.clear()

    async def sizes(self) -> list[tuple[str, int]]:
        return [(k, len(v)) for k, v in self.data.items()]

    async def rename(self, old: str, new: str) -> None:
        if old not in self.data:
            raise key_not_found(old)
        if new in self.data:
            raise key_exists(new)
        self.data[new] = self.data.pop(old)
