"""The Redis and NATS JetStream servers tests share (127.0.0.1:6379 and :4222 by default), and
scratch key prefixes whose keys, streams and buckets are removed when a test is done.

``PFS_TEST_REDIS_URL`` / ``PFS_TEST_NATS_URL`` point the tests elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Every scratch prefix starts with this.
SCRATCH = "pfstest"
#: (engine, prefix) handed out by :meth:`Engine.new_prefix` in this process, for
#: :func:`remove_issued` at the end of the test session.
_ISSUED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Engine:
    kind: str
    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or {"redis": 6379, "nats": 4222}[self.kind]

    def config(self, prefix: str, **extra: object) -> dict[str, object]:
        """Plugin config keys for this server under ``prefix``."""
        return {"backend": self.kind, "url": self.url, "key_prefix": prefix, **extra}

    def new_prefix(self) -> str:
        """A prefix unique to this run (redis keys ``pfstest:<hex>:``, nats ``pfstest_<hex>``)."""
        sep = ":" if self.kind == "redis" else "_"
        prefix = f"{SCRATCH}{sep}{uuid.uuid4().hex[:10]}{sep}"
        _ISSUED.add((self.kind, prefix))
        return prefix

    def reachable(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            asyncio.run(self._remove(None, ping=True))
        except Exception as exc:  # any failure means "cannot use it"
            return f"{self.kind} at {self.host}:{self.port} unreachable: {exc}"
        return None

    @contextmanager
    def scratch_prefix(self) -> Iterator[str]:
        """A fresh prefix; everything stored under it is removed on exit."""
        prefix = self.new_prefix()
        try:
            yield prefix
        finally:
            self.remove(prefix)
            _ISSUED.discard((self.kind, prefix))

    def remove(self, prefix: str) -> None:
        asyncio.run(self._remove(prefix))

    async def _remove(self, prefix: str | None, ping: bool = False) -> None:
        if self.kind == "redis":
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=3)
            try:
                await client.ping()
                if prefix is not None:
                    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
                    for start in range(0, len(keys), 500):
                        await client.delete(*keys[start : start + 500])
            finally:
                await client.aclose()
            return
        import nats

        nc = await nats.connect(self.url, connect_timeout=3, max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            await js.account_info()
            if prefix is not None:
                for stream in await js.streams_info():
                    name = stream.config.name
                    if name.startswith(prefix) or name.startswith(f"KV_{prefix}"):
                        await js.delete_stream(name)
        finally:
            await nc.close()


REDIS = Engine("redis", os.environ.get("PFS_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
NATS = Engine("nats", os.environ.get("PFS_TEST_NATS_URL", "nats://127.0.0.1:4222"))
ENGINES = {"redis": REDIS, "nats": NATS}


def remove_issued() -> None:
    """Remove what every prefix handed out in this process left behind."""
    while _ISSUED:
        kind, prefix = _ISSUED.pop()
        try:
            ENGINES[kind].remove(prefix)
        except Exception:  # the server is gone: nothing to clean on it
            continue
