"""Changes made to a local directory from outside the server, told to the namespace's watchers
(localfs): inotify through ``asyncinotify`` (the ``watch`` extra), on the event loop without a
thread, and only while a watch covers the mount.

Each directory of the tree takes one inotify watch (the kernel's ``max_user_watches`` bounds
them); directories created later are added as they appear. The events the server's own changes
cause come back here too; the event hub drops those as echoes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from pathlib import Path

from pfs.extras import needs
from pfs.fs.events import ECHO_SETTLE, EventHub

log = logging.getLogger("pfs.plugins.localfs")

#: In the names of localfs's staging files (``.NAME.pfs-upload-XXXX``), which are not told.
UPLOAD_MARK = ".pfs-upload-"


class LocalChanges:
    """Reports what happens below ``base`` as events at ``mount_path`` while ``watched``."""

    def __init__(self, base: str, mount_path: str, hub: EventHub) -> None:
        self.base = Path(base)
        self.mount_path = mount_path
        self.hub = hub
        self._task: asyncio.Task[None] | None = None
        self._due: collections.deque[tuple[float, str, str, str | None]] = collections.deque()
        self._queued = asyncio.Event()

    def watched(self, on: bool) -> None:
        if on and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        elif not on and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _tell(self, kind: str, path: str, new_path: str | None = None) -> None:
        self._due.append((asyncio.get_running_loop().time() + ECHO_SETTLE, kind, path, new_path))
        self._queued.set()

    async def _publish(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._due:
                self._queued.clear()
                await self._queued.wait()
            due, kind, path, new_path = self._due[0]
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            self._due.popleft()
            self.hub.publish(kind, path, new_path, outside=True)

    def _namespace_path(self, path: Path | None) -> str | None:
        if path is None or UPLOAD_MARK in path.name:
            return None
        try:
            rel = path.relative_to(self.base)
        except ValueError:
            return None
        return self.mount_path if str(rel) == "." else f"{self.mount_path}/{rel.as_posix()}"

    async def _run(self) -> None:
        try:
            from asyncinotify import Mask, RecursiveInotify
        except ImportError as exc:
            log.warning("localfs: outside changes are not told: %s", needs("watching", exc))
            return
        mask = (
            Mask.CREATE | Mask.CLOSE_WRITE | Mask.DELETE | Mask.MOVED_FROM | Mask.MOVED_TO
            | Mask.ATTRIB
        )  # fmt: skip
        publisher = asyncio.ensure_future(self._publish())
        try:
            with RecursiveInotify() as inotify:
                # The walk of the tree is blocking work: a thread does it.
                await asyncio.to_thread(inotify.add_recursive_watch, self.base, mask)
                moved: tuple[int, str] | None = None  # a MOVED_FROM waiting for its MOVED_TO
                while True:
                    if moved is None:
                        event = await inotify.get()
                    else:
                        try:
                            async with asyncio.timeout(0.05):
                                event = await inotify.get()
                        except TimeoutError:  # moved out of the tree: gone from here
                            self._tell("remove", moved[1])
                            moved = None
                            continue
                    path = self._namespace_path(event.path)
                    if path is None or Mask.IGNORED in event.mask:
                        continue
                    if moved is not None and not (
                        Mask.MOVED_TO in event.mask and event.cookie == moved[0]
                    ):
                        self._tell("remove", moved[1])
                        moved = None
                    is_dir = Mask.ISDIR in event.mask
                    if Mask.MOVED_FROM in event.mask:
                        moved = (event.cookie, path)
                        continue
                    if Mask.MOVED_TO in event.mask:
                        if moved is not None:
                            self._tell("rename", moved[1], path)
                            moved = None
                        else:
                            self._tell("mkdir" if is_dir else "create", path)
                    elif Mask.CREATE in event.mask:
                        self._tell("mkdir" if is_dir else "create", path)
                    elif Mask.CLOSE_WRITE in event.mask:
                        self._tell("write", path)
                    elif Mask.DELETE in event.mask:
                        self._tell("remove", path)
                    elif Mask.ATTRIB in event.mask:
                        self._tell("chmod", path)
        except OSError as exc:
            log.error("localfs: watching %s for outside changes failed: %s", self.base, exc)
        finally:
            publisher.cancel()
