"""The mount table: longest-prefix routing to plugins, virtual parent directories, and the
life of a mount (start, in-flight tracking, drain, shutdown). It is itself a FileSystem over the
whole namespace, so the server only ever talks to it.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pfs.fs.base import (
    REPLACE,
    WRITE_LIMIT,
    Buffered,
    Expect,
    FileSystem,
    MountContext,
    WriteFlag,
)
from pfs.fs.errors import (
    AlreadyExists,
    CrossMount,
    FSError,
    InvalidArgument,
    MountExists,
    NotFound,
    NotSupported,
    PermissionDenied,
    ReadOnly,
    SymlinkLoop,
)
from pfs.fs.events import EventHub
from pfs.fs.fileinfo import FileInfo, Meta
from pfs.fs.handle_table import DEFAULT_LEASE, MAX_OPEN, HandleTable, OpenHandle
from pfs.fs.handles import OpenFlag, changes_data
from pfs.fs.links import LINK_TYPE, LinkInPath, LinkTable, hop, link_info, target_path
from pfs.fs.paths import join, normalize, split_parent
from pfs.fs.traffic import Traffic

log = logging.getLogger("pfs.mounts")

T = TypeVar("T")
Extra = TypeVar("Extra")

#: ``user:password@`` in a DSN (Go style or URL): the password is hidden from listings.
_DSN_PASSWORD = re.compile(r"^((?:[a-z+]+://)?[^:@/]*):[^@]*@")

#: How long unmount waits for in-flight requests before shutting the plugin down anyway.
DRAIN_SECONDS = 30.0


@dataclass(eq=False)
class Mount:
    path: str
    fstype: str
    fs: FileSystem
    #: The config as the client or the config file gave it (``read_only`` aside), for listings.
    config: dict[str, Any] | None = None
    read_only: bool = False
    active: int = 0
    #: Plugin calls made through the table, by operation (``read``, ``write``, ...): metrics.
    ops: dict[str, int] = field(default_factory=dict)
    #: Read streams of this mount open right now (each is also one of ``active``).
    streams: int = 0
    closing: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def enter(self, op: str) -> None:
        self.active += 1
        self.ops[op] = self.ops.get(op, 0) + 1

    def leave(self) -> None:
        self.active -= 1
        if self.closing and self.active == 0:
            self.idle.set()


#: Config keys whose values are credentials; a read-only client listing mounts must not see them.
_SECRET_WORDS = ("password", "secret", "token")
_HIDDEN = "********"


def shown_config(config: dict[str, Any]) -> dict[str, Any]:
    """A mount config as listings show it, credentials hidden."""
    return {key: _shown(key, value) for key, value in config.items()}


def _shown(key: str, value: Any) -> Any:
    """A mount config value as ``GET /mounts`` shows it: credentials hidden (``*_env`` keys only
    name a variable, so they stay), a DSN's password too."""
    lowered = key.lower()
    if lowered.endswith("_env") or not isinstance(value, str):
        return value
    if any(word in lowered for word in _SECRET_WORDS):
        return _HIDDEN if value else value
    if lowered == "dsn":
        return _DSN_PASSWORD.sub(rf"\1:{_HIDDEN}@", value)
    return value


class _InFlight:
    """A plugin's stream that counts as an in-flight request of its mount until closed."""

    __slots__ = ("_chunks", "_mount")

    def __init__(self, chunks: AsyncIterator[bytes], mount: Mount) -> None:
        self._chunks = chunks
        self._mount: Mount | None = mount
        mount.streams += 1

    def __aiter__(self) -> _InFlight:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._mount is not None:
            mount, self._mount = self._mount, None
            try:
                close = getattr(self._chunks, "aclose", None)
                if close is not None:
                    await close()
            finally:
                mount.streams -= 1
                mount.leave()


async def _call(mount: Mount, op: str, path: str, call: Awaitable[T]) -> T:
    """Await one plugin ``call`` (operation ``op``) as an in-flight request of ``mount`` (unmount
    waits for it), re-raising the plugin's errors at the full ``path`` the client sent
    (:meth:`FSError.at`)."""
    mount.enter(op)
    try:
        return await call
    except FSError as exc:
        raise exc.at(path) from exc
    finally:
        mount.leave()


async def _open(
    mount: Mount, op: str, path: str, opening: Awaitable[AsyncIterator[bytes]]
) -> AsyncIterator[bytes]:
    """:func:`_call` for opening a stream: the stream stays in flight until it is closed. Bytes all
    in hand (:class:`Buffered`) are done with the plugin already and are not tracked."""
    return (await _open_with(mount, op, path, _without_info(opening)))[1]


async def _without_info(
    opening: Awaitable[AsyncIterator[bytes]],
) -> tuple[None, AsyncIterator[bytes]]:
    return None, await opening


async def _open_with(
    mount: Mount, op: str, path: str, opening: Awaitable[tuple[Extra, AsyncIterator[bytes]]]
) -> tuple[Extra, AsyncIterator[bytes]]:
    """:func:`_open` for an opening that brings something along with the stream (its info)."""
    mount.enter(op)
    try:
        extra, chunks = await opening
    except BaseException as exc:
        mount.leave()
        if isinstance(exc, FSError):
            raise exc.at(path) from exc
        raise
    if isinstance(chunks, Buffered):
        mount.leave()
        return extra, chunks
    return extra, _InFlight(chunks, mount)


def _below(mount_path: str, rel: str) -> str:
    """The namespace path of the plugin path ``rel`` of the mount at ``mount_path``."""
    return mount_path if rel == "/" else mount_path + rel


class _Redirect(Exception):  # noqa: N818 -- control flow inside the mount table
    """A listing met a plugin's link: list ``path`` instead."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _virtual_dir(name: str, meta_name: str = "") -> FileInfo:
    return FileInfo(name=name, mode=0o755, is_dir=True, meta=Meta(meta_name, "mount-point"))


def _mount_file(name: str, meta_name: str = "") -> FileInfo:
    """A mount point whose plugin's root is a file (``FileSystem.root_is_file``)."""
    return FileInfo(name=name, mode=0o444, is_dir=False, meta=Meta(meta_name, "mount-point"))


class MountTable(FileSystem):
    """Routes every path of the namespace to the plugin mounted at its longest matching prefix."""

    fstype = "mounts"

    def __init__(self, max_handles: int = MAX_OPEN) -> None:
        super().__init__({})
        self._mounts: dict[str, Mount] = {}
        self._lock = asyncio.Lock()
        #: The open handles of every mount (``/api/v1/handles``); unmount closes a mount's.
        #: Change events of the namespace, for watchers (``/api/v1/watch``).
        self.events = EventHub()
        self.handles = HandleTable(max_handles, self.events)
        #: File bytes the server sent and received, counted by its handlers.
        self.traffic = Traffic()
        self._links = LinkTable()

    # -- table -----------------------------------------------------------------------------

    # Inside this class body ``list`` names this method: annotations use ``builtins.list``.
    def list(self) -> list[Mount]:
        return sorted(self._mounts.values(), key=lambda m: m.path)

    def find(self, path: str) -> tuple[Mount, str] | None:
        """The mount serving normalised ``path`` and the plugin-relative remainder."""
        mounts = self._mounts
        probe = path
        while True:
            mount = mounts.get(probe)
            if mount is not None:
                return mount, ("/" if probe == path else path[len(probe) :])
            if probe == "/":
                return None
            cut = probe.rfind("/")
            probe = probe[:cut] or "/"

    def serving(self, path: str) -> Mount | None:
        """The mount serving ``path`` once the table's links on the way are followed (a
        plugin's own links stay in its mount); None outside every mount."""
        found = self.find(self._follow(path)[0])
        return None if found is None else found[0]

    async def mount(
        self,
        path: str,
        fstype: str,
        factory: Callable[[dict[str, Any]], FileSystem],
        config: dict[str, Any],
        *,
        shown_config: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> Mount:
        """Create, start and register a plugin instance at ``path``.

        The plugin starts outside the table lock (a slow backend does not block other mounts);
        the duplicate check runs before and again after.
        """
        path = normalize(path)
        if path == "/":
            raise InvalidArgument("invalid argument path: cannot mount at /; choose a sub-path")
        if path in self._mounts:
            raise MountExists(f"mount already exists: {path}")
        fs = factory(config)
        fs.context = MountContext(path, self, self.traffic, self.events)
        await fs.start()
        async with self._lock:
            if path in self._mounts:
                await fs.shutdown()
                raise MountExists(f"mount already exists: {path}")
            mount = Mount(path, fstype, fs, shown_config, read_only)
            self._mounts = {**self._mounts, path: mount}
        log.info("mounted %s at %s", fstype, path)
        self.events.publish("mount", path)
        return mount

    async def unmount(self, path: str) -> None:
        """Remove the mount at ``path``; wait for its in-flight requests, then shut it down."""
        path = normalize(path)
        async with self._lock:
            mount = self._mounts.get(path)
            if mount is None:
                raise NotFound(f"no mount at path: {path}")
            self._mounts = {k: v for k, v in self._mounts.items() if k != path}
        self.events.publish("unmount", path)
        await self.handles.close_mount(mount)
        mount.closing = True
        try:
            await mount.fs.end_streams()
        except Exception:
            log.exception("unmount %s: ending live streams failed", path)
        if mount.active:
            try:
                await asyncio.wait_for(mount.idle.wait(), DRAIN_SECONDS)
            except TimeoutError:
                log.warning("unmount %s: %d requests still running", path, mount.active)
        await mount.fs.shutdown()
        log.info("unmounted %s", path)

    async def end_streams(self) -> None:
        """End every live stream of every mount, and every watch (the server is stopping)."""
        self.events.close()
        for mount in list(self._mounts.values()):
            try:
                await mount.fs.end_streams()
            except Exception:
                log.exception("ending the streams of %s failed", mount.path)

    async def shutdown(self) -> None:
        for mount in list(self._mounts.values()):
            try:
                await self.unmount(mount.path)
            except Exception:
                log.exception("shutdown of %s failed", mount.path)
        await self.handles.close_all()

    # -- routing helpers -------------------------------------------------------------------

    def _route(self, raw: str, path: str) -> tuple[Mount, str]:
        found = self.find(path)
        if found is None:
            raise NotFound(f"{NotFound.summary}: {raw}")
        return found

    def _route_writable(self, op: str, raw: str, path: str) -> tuple[Mount, str]:
        mount, rel = self._route(raw, path)
        if mount.read_only:
            raise ReadOnly(f"{op}: {raw}: permission denied (read-only mount {mount.path})")
        if rel == "/" and op in ("remove", "rename"):
            raise PermissionDenied(
                f"{op}: {raw}: permission denied (a mount point cannot be {op}d; unmount it)"
            )
        return mount, rel

    def _child_mounts(self, directory: str) -> builtins.list[str]:
        """First components of every mount strictly below ``directory``."""
        prefix = "/" if directory == "/" else directory + "/"
        names: dict[str, None] = {}
        for mount_path in self._mounts:
            if mount_path.startswith(prefix) and mount_path != directory:
                names[mount_path[len(prefix) :].split("/", 1)[0]] = None
        return list(names)

    def _follow(self, raw: str, follow_last: bool = True, hops: int = 0) -> tuple[str, int]:
        """``raw`` normalised, with the links of the table among its components followed."""
        path = normalize(raw)
        if self._links.links:
            return self._links.follow(path, follow_last, hops, raw)
        return path, hops

    async def _on(
        self,
        op: str,
        raw: str,
        call: Callable[[FileSystem, str], Awaitable[T]],
        *,
        follow_last: bool = True,
        writable: bool = True,
        event: str | None = None,
    ) -> T:
        """``call(plugin, plugin path)`` for ``raw`` once every symlink on the way is followed:
        the table's here, a plugin's (localfs) when the plugin signals one (LinkInPath)."""
        path, hops = self._follow(raw, follow_last)
        while True:
            if writable:
                mount, rel = self._route_writable(op, raw, path)
            else:
                mount, rel = self._route(raw, path)
            try:
                result = await _call(mount, op, raw, call(mount.fs, rel))
            except LinkInPath as link:
                hops = hop(hops, raw)
                rest = rel[len(link.link) :]
                path, hops = self._follow(_below(mount.path, link.target) + rest, follow_last, hops)
                continue
            if event is not None:
                self.events.publish(event, _below(mount.path, rel))
            return result

    async def _open_on(
        self,
        op: str,
        raw: str,
        opening: Callable[[FileSystem, str], Awaitable[AsyncIterator[bytes]]],
    ) -> AsyncIterator[bytes]:
        """:meth:`_on` for opening a read stream (tracked in flight until closed)."""
        path, hops = self._follow(raw)
        while True:
            mount, rel = self._route(raw, path)
            try:
                return await _open(mount, op, raw, opening(mount.fs, rel))
            except LinkInPath as link:
                hops = hop(hops, raw)
                path, hops = self._follow(
                    _below(mount.path, link.target) + rel[len(link.link) :], True, hops
                )

    async def _resolve(self, raw: str) -> str:
        """The path ``raw`` leads to with every link followed, the last one too (a dangling
        link's target included; a path that does not exist is returned as it is)."""
        path, hops = self._follow(raw)
        while True:
            found = self.find(path)
            if found is None:
                return path
            mount, rel = found
            try:
                target = await _call(mount, "readlink", raw, mount.fs.readlink(rel))
            except LinkInPath as link:
                target = link.target + rel[len(link.link) :]
            except FSError:
                return path  # not a link (or nothing there): the path is where it leads
            hops = hop(hops, raw)
            path, hops = self._follow(_below(mount.path, target), True, hops)

    async def _unfollowed(self, raw: str) -> str:
        """``raw`` with every link followed but one in the last place (which is what an
        operation on a link itself names)."""
        path, _ = self._follow(raw, follow_last=False)
        if path == "/":
            return path
        parent, name = split_parent(path)
        return join(await self._resolve(parent), name)

    # -- symlinks --------------------------------------------------------------------------

    async def symlink(self, path: str, target: str) -> None:
        """A link at ``path`` to ``target`` (absolute, or relative to the link's directory).

        Stored by the plugin where it can (localfs: a real symlink, whose target must then stay
        inside that mount), else in the table here. A target that leads back to the link itself
        is refused, as is anything already at ``path``.
        """
        if not target:
            raise InvalidArgument("target is required")
        if "\x00" in target:
            raise InvalidArgument("invalid argument target: contains a NUL byte")
        link = await self._unfollowed(path)
        if link == "/" or await self._exists(link):
            raise AlreadyExists(f"symlink already exists: {path}")
        parent = split_parent(link)[0]
        if parent != "/" and not await self._is_dir(parent):
            raise NotFound(f"parent directory does not exist: {parent}")
        destination = target_path(link, target)
        try:
            leads_to = await self._resolve(destination)
        except SymlinkLoop:
            raise SymlinkLoop(f"symlink: {path}: too many levels of symbolic links") from None
        if leads_to == link or leads_to.startswith(link + "/"):
            raise SymlinkLoop(f"symlink: {path}: the target {target} leads back to the link")
        if self.find(link) is not None:
            mount, rel = self._route_writable("symlink", path, link)
            if mount.fs.stores_links:
                within = self.find(destination)
                if within is None or within[0] is not mount:
                    raise PermissionDenied(
                        f"symlink: {path}: permission denied (the target {target} is outside "
                        f"{mount.path}; {mount.fstype} keeps its links inside the mount)"
                    )
                await _call(mount, "symlink", path, mount.fs.symlink(rel, within[1]))
                self.events.publish("symlink", link)
                return
        self._links.add(link, target)
        self.events.publish("symlink", link)

    async def readlink(self, path: str) -> str:
        """A link's target: as given for links of the table, as a namespace path for links a
        plugin stores."""
        link = await self._unfollowed(path)
        entry = self._links.get(link)
        if entry is not None:
            return entry.target
        not_a_link = NotFound(f"readlink: {path}: not found (not a symbolic link)")
        mount, rel = self._route(path, link)
        if rel == "/":
            raise not_a_link
        try:
            target = await _call(mount, "readlink", path, mount.fs.readlink(rel))
        except (NotSupported, InvalidArgument):
            raise not_a_link from None
        return _below(mount.path, target)

    async def _exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except NotFound:
            return False
        return True

    async def _is_dir(self, path: str) -> bool:
        try:
            return (await self._stat_following(path)).is_dir
        except FSError:
            return False

    async def _stat_following(self, path: str) -> FileInfo:
        return await self.stat(await self._resolve(path))

    async def _link_entry(self, path: str, name: str) -> FileInfo:
        """The entry of the table's link at ``path``: ``is_dir`` tells whether it leads to a
        directory (what AGFS's clients look at)."""
        link = self._links.links[path]
        try:
            is_dir = (await self._stat_following(path)).is_dir
        except FSError:
            is_dir = False
        return link_info(name, link.target, link.mtime_ns, is_dir)

    # -- namespace operations --------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        norm, hops = self._follow(path, follow_last=False)
        if norm == "/":
            return FileInfo(name="/", mode=0o755, is_dir=True, meta=Meta("", "root"))
        if norm in self._links.links:
            return await self._link_entry(norm, norm.rsplit("/", 1)[1])
        while True:
            found = self.find(norm)
            if found is None:
                if self._child_mounts(norm):
                    return _virtual_dir(norm.rsplit("/", 1)[1])
                raise NotFound(f"{NotFound.summary}: {path}")
            mount, rel = found
            try:
                info = await _call(mount, "stat", path, mount.fs.stat(rel))
                break
            except LinkInPath as link:
                hops = hop(hops, path)
                norm, hops = self._follow(
                    _below(mount.path, link.target) + rel[len(link.link) :], False, hops
                )
                if norm in self._links.links:
                    return await self._link_entry(norm, norm.rsplit("/", 1)[1])
        if rel == "/" and info.name in ("/", ""):
            info.name = norm.rsplit("/", 1)[1]
        return info

    async def readdir(self, path: str) -> builtins.list[FileInfo]:
        norm, hops = self._follow(path)
        while True:
            try:
                entries = await self._readdir_at(path, norm)
                break
            except _Redirect as redirect:
                hops = hop(hops, path)
                norm, hops = self._follow(redirect.path, True, hops)
        names = self._links.names_in(norm)
        if names:
            listed = {e.name for e in entries}
            for name in names:
                if name not in listed:
                    entries.append(await self._link_entry(join(norm, name), name))
        return entries

    async def _readdir_at(self, raw: str, path: str) -> builtins.list[FileInfo]:
        children = self._child_mounts(path)
        if path == "/":
            return [self._mount_entry(path, name, "rootfs") for name in children]
        found = self.find(path)
        if found is None:
            if not children and not self._links.names_in(path):
                raise NotFound(f"{NotFound.summary}: {raw}")
            return [self._mount_entry(path, name) for name in children]
        mount, rel = found
        try:
            entries = await _call(mount, "readdir", raw, mount.fs.readdir(rel))
        except LinkInPath as link:
            raise _Redirect(_below(mount.path, link.target) + rel[len(link.link) :]) from None
        if children:
            listed = {e.name for e in entries}
            entries = entries + [self._mount_entry(path, n) for n in children if n not in listed]
        return entries

    def _mount_entry(self, directory: str, name: str, meta_name: str = "") -> FileInfo:
        """The entry of ``directory``'s child ``name`` that holds mounts: a directory, or a
        file when a mount there has a file for its root."""
        mount = self._mounts.get(join(directory, name))
        if mount is not None and mount.fs.root_is_file:
            return _mount_file(name, meta_name)
        return _virtual_dir(name, meta_name)

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        if not self._links.links:  # the common case: no table to look at
            mount, rel = self._route(path, normalize(path))
            try:
                return await _call(mount, "read", path, mount.fs.read(rel, offset, size))
            except LinkInPath:
                pass
        return await self._on(
            "read", path, lambda fs, rel: fs.read(rel, offset, size), writable=False
        )

    async def read_waiting(self, path: str, seconds: float, gone: asyncio.Event) -> bytes:
        return await self._on(
            "read", path, lambda fs, rel: fs.read_waiting(rel, seconds, gone), writable=False
        )

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        return await self._open_on(
            "read_stream", path, lambda fs, rel: fs.read_stream(rel, offset, size)
        )

    async def read_stream_with_info(
        self, path: str, offset: int = 0, size: int = -1
    ) -> tuple[FileInfo | None, AsyncIterator[bytes]]:
        # One plugin call where no link is in the way (the common case); else stat and
        # read_stream, each following links as it does on its own.
        if not self._links.links:
            norm = normalize(path)
            found = self.find(norm)
            if found is not None and found[1] != "/":
                mount, rel = found
                opening = mount.fs.read_stream_with_info(rel, offset, size)
                try:
                    return await _open_with(mount, "read_stream", path, opening)
                except LinkInPath:
                    pass
        try:
            info: FileInfo | None = await self.stat(path)
        except FSError:
            info = None
        return info, await self.read_stream(path, offset, size)

    async def open_stream(self, path: str) -> AsyncIterator[bytes]:
        return await self._open_on("open_stream", path, lambda fs, rel: fs.open_stream(rel))

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        return await self._on(
            "write", path, lambda fs, rel: fs.write(rel, data, offset, flags), event="write"
        )

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        return await self._on(
            "write",
            path,
            lambda fs, rel: fs.write_stream(rel, chunks, offset, flags, limit),
            event="write",
        )

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        return await self._on(
            "write",
            path,
            lambda fs, rel: fs.write_if(rel, chunks, expect, offset, flags, limit),
            event="write",
        )

    async def copy_file(self, src: str, dst: str) -> int:
        """The copy of the plugin both paths are in (links followed); NotSupported across
        mounts or where the plugin has none, so the caller streams the copy."""
        source, target = await self._resolve(src), await self._unfollowed(dst)
        found_src, found_dst = self.find(source), self.find(target)
        if found_src is None or found_dst is None or found_src[0] is not found_dst[0]:
            raise NotSupported(f"copy: {src}: not within one mount")
        mount, rel_dst = self._route_writable("copy", dst, target)
        # Errors are named at the destination: the source was just found by the caller.
        copied = await _call(mount, "copy", dst, mount.fs.copy_file(found_src[1], rel_dst))
        self.events.publish("write", target)
        return copied

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        norm, _ = self._follow(path, follow_last=False)
        if norm in self._links.links:
            raise NotSupported(f"conditional remove: {path}: a symbolic link has no ETag")
        self._route_writable("remove", path, norm)  # read-only mounts, mount points
        await self._on(
            "remove",
            path,
            lambda fs, rel: fs.remove_if(rel, expect, recursive),
            follow_last=False,
            event="remove",
        )

    def _refuse_existing_link(self, op: str, raw: str) -> None:
        """create and mkdir do not follow a link in the last place: the name is taken."""
        if self._links.links:
            link, _ = self._follow(raw, follow_last=False)
            if link in self._links.links:
                raise AlreadyExists(f"{AlreadyExists.summary}: {raw}")

    async def create(self, path: str) -> None:
        self._refuse_existing_link("create", path)
        await self._on(
            "create", path, lambda fs, rel: fs.create(rel), follow_last=False, event="create"
        )

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._refuse_existing_link("mkdir", path)
        await self._on(
            "mkdir", path, lambda fs, rel: fs.mkdir(rel, mode), follow_last=False, event="mkdir"
        )

    async def remove(self, path: str, recursive: bool = False) -> None:
        op = "removeall" if recursive else "remove"
        norm, _ = self._follow(path, follow_last=False)
        if self._links.remove(norm) is not None:
            self.events.publish("remove", norm)
            return  # the link goes, never what it leads to
        if norm == "/" or (self.find(norm) is None and self._child_mounts(norm)):
            raise PermissionDenied(f"{op}: {path}: permission denied (not a removable path)")
        mount, rel = self._route(path, norm)
        if mount.read_only:
            raise ReadOnly(f"{op}: {path}: permission denied (read-only mount {mount.path})")
        if rel == "/":
            raise PermissionDenied(
                f"{op}: {path}: permission denied (a mount point cannot be deleted; "
                "unmount it instead)"
            )
        await self._on(
            op, path, lambda fs, rel: fs.remove(rel, recursive), follow_last=False, event="remove"
        )

    async def rename(self, old: str, new: str) -> None:
        old_n, new_n = await self._unfollowed(old), await self._unfollowed(new)
        link = self._links.get(old_n)
        if link is not None:
            if new_n in self._links.links or await self._exists(new_n):
                raise AlreadyExists(f"{AlreadyExists.summary}: {new}")
            self._links.remove(old_n)
            self._links.add(new_n, link.target)
            self.events.publish("rename", old_n, new_n)
            return
        if new_n in self._links.links:
            raise AlreadyExists(f"{AlreadyExists.summary}: {new}")
        src, dst = self.find(old_n), self.find(new_n)
        if src is None or dst is None:
            raise CrossMount("cannot rename: paths not in same mounted filesystem")
        if src[0] is not dst[0]:
            raise CrossMount("cannot rename across different mounts")
        mount, rel_old = self._route_writable("rename", old, old_n)
        rel_new = dst[1]
        if rel_new == "/":
            raise PermissionDenied(f"rename: {new}: permission denied (target is a mount point)")
        try:
            await _call(mount, "rename", old, mount.fs.rename(rel_old, rel_new))
        except AlreadyExists as exc:
            # The name that exists is the target's, not the source's the call was located at.
            raise exc.at(new) from exc.__cause__
        self.events.publish("rename", old_n, new_n)

    async def chmod(self, path: str, mode: int) -> None:
        await self._on("chmod", path, lambda fs, rel: fs.chmod(rel, mode), event="chmod")

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        norm, _ = self._follow(path)
        if self.find(norm) is None and self._child_mounts(norm):
            raise NotSupported(f"touch: {path}: a parent of mounts has no time to set")
        await self._on("touch", path, lambda fs, rel: fs.set_mtime(rel, mtime_ns), event="touch")

    async def truncate(self, path: str, size: int) -> None:
        await self._on("truncate", path, lambda fs, rel: fs.truncate(rel, size), event="truncate")

    async def open_handle(
        self,
        path: str,
        flags: OpenFlag = OpenFlag.RDONLY,
        mode: int = 0o644,
        lease: int = DEFAULT_LEASE,
    ) -> OpenHandle:
        """Open ``path`` (links followed) through its plugin and register the handle (id,
        lease) in ``handles``."""
        norm = await self._resolve(path)
        if changes_data(flags):
            mount, rel = self._route_writable("openhandle", path, norm)
        else:
            mount, rel = self._route(path, norm)
        self.handles.check_room()
        handle = await _call(mount, "open_handle", path, mount.fs.open_handle(rel, flags, mode))
        try:
            return self.handles.add(mount, norm, handle, lease)
        except BaseException:
            await handle.close()
            raise

    async def walk_files(self, path: str) -> AsyncIterator[str]:
        """Every file below ``path`` depth-first in listing order (errors skipped), for grep.

        Files whose read has an effect (a queue's ``dequeue``, a live stream) are never yielded,
        nor symlinks followed.
        The walk keeps its own stack, so no depth of directories exhausts Python's recursion.
        """

        async def listing(directory: str) -> Iterator[FileInfo]:
            try:
                return iter(await self.readdir(directory))
            except Exception as exc:  # the original skips unreadable directories
                log.debug("walk %s: %s", directory, exc)
                return iter(())

        stack = [(path, await listing(path))]
        while stack:
            directory, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.meta.type == LINK_TYPE:
                continue  # links are not followed: a loop of them would never end
            child = join(directory, entry.name)
            if entry.is_dir:
                stack.append((child, await listing(child)))
            elif not entry.read_effect:
                yield child
