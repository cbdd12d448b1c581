"""The MariaDB/MySQL server tests share (127.0.0.1:3306 by default), plus a TCP relay that lets a
test cut, freeze and restore the connection to it without touching the server others use.

``PFS_TEST_MYSQL_HOST`` / ``PFS_TEST_MYSQL_PORT`` / ``PFS_TEST_MYSQL_USER`` /
``PFS_TEST_MYSQL_PASSWORD`` point the tests elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pfs.testing.server import free_port


@dataclass(frozen=True)
class MariaDB:
    host: str = os.environ.get("PFS_TEST_MYSQL_HOST", "127.0.0.1")
    port: int = int(os.environ.get("PFS_TEST_MYSQL_PORT", "3306"))
    user: str = os.environ.get("PFS_TEST_MYSQL_USER", "root")
    password: str = os.environ.get("PFS_TEST_MYSQL_PASSWORD", "")

    def config(self, database: str, **extra: object) -> dict[str, object]:
        """Plugin config keys (host/port/user/password/database) for this server."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": database,
            **extra,
        }

    def run(self, sql: str) -> list[tuple]:
        """Run one statement (outside any database) and return its rows."""
        import asyncmy

        async def go() -> list[tuple]:
            conn = await asyncmy.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                connect_timeout=3,
                autocommit=True,
            )
            try:
                async with conn.cursor() as cur:
                    await cur.execute(sql)
                    return list(await cur.fetchall() or [])
            finally:
                conn.close()

        return asyncio.run(go())

    def reachable(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            self.run("SELECT 1")
        except Exception as exc:  # any failure means "cannot use it"
            return f"MariaDB at {self.host}:{self.port} unreachable: {exc}"
        return None

    @contextmanager
    def scratch_database(self, prefix: str = "pfs_test") -> Iterator[str]:
        """A database name unique to this run; dropped (if created) on exit."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        try:
            yield name
        finally:
            self.run(f"DROP DATABASE IF EXISTS `{name}`")


class TcpRelay:
    """Forward ``127.0.0.1:<port>`` to ``target``.

    :meth:`cut` drops the listener and every open connection (the database looks unreachable),
    :meth:`restore` listens again. :meth:`freeze` stops forwarding in both directions but keeps
    every connection open and still accepts new ones (the database looks alive and never
    answers: a hung server or a silent network); :meth:`thaw` delivers what was held back and
    forwards again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
            listener, self._listener = self._listener, None
        for sock in [listener, *sockets]:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.thaw()  # frozen pumps wake up and end on the closed sockets
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst, self._flowing), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket, flowing: threading.Event) -> None:
    try:
        while data := src.recv(65536):
            flowing.wait()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
