"""The memory back end of kvfs: a dict (the original's map), lost on restart."""

from __future__ import annotations

from pfs.plugins.kvfs.backend import (
    Guard,
    KVBackend,
    State,
    Updater,
    key_exists,
    key_not_found,
    new_version,
)


class MemoryBackend(KVBackend):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.versions: dict[str, str] = {}

    async def start(self, initial: dict[str, bytes]) -> None:
        self.data.update(initial)

    async def close(self) -> None:
        self.data.clear()

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def size(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else len(value)

    async def state(self, key: str) -> State:
        value = self.data.get(key)
        return None if value is None else (len(value), self.versions.get(key, "0"))

    # Each change below runs in one step of the event loop: nothing comes between its check and
    # its change.
    async def update(
        self, key: str, fn: Updater, incoming: int = 0, guard: Guard | None = None
    ) -> None:
        if guard is not None:
            guard(await self.state(key))
        self.data[key] = fn(self.data.get(key))
        self.versions[key] = new_version()

    async def delete_if(self, key: str, guard: Guard) -> None:
        guard(await self.state(key))
        await self.delete(key)

    async def create(self, key: str) -> None:
        if key in self.data:
            raise key_exists(key)
        self.data[key] = b""
        self.versions[key] = new_version()

    async def delete(self, key: str) -> None:
        if self.data.pop(key, None) is None:
            raise key_not_found(key)
        self.versions.pop(key, None)

    async def clear(self) -> None:
        self.data.clear()
        self.versions.clear()

    async def sizes(self) -> list[tuple[str, int]]:
        return [(k, len(v)) for k, v in self.data.items()]

    async def rename(self, old: str, new: str) -> None:
        if old not in self.data:
            raise key_not_found(old)
        if new in self.data:
            raise key_exists(new)
        self.data[new] = self.data.pop(old)
        self.versions[new] = self.versions.pop(old, "0")
