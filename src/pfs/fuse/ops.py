"""The pyfuse3 operations: the whole PFS namespace as one kernel file system.

Every request resolves its inode to a path (``InodeTable``) and becomes one or a few SDK calls;
typed PFS errors become their ``errno`` column. Attributes and listings are cached for ``ttl``
seconds (size-capped) on top of the kernel's own ``entry_timeout``/``attr_timeout``.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pyfuse3

from pfs._mounts import crosses_mounts
from pfs.client import AsyncClient
from pfs.fs.errors import AlreadyExists, FSError, NotSupported, TooLarge
from pfs.fs.fileinfo import FileInfo
from pfs.fuse.cache import TTLCache
from pfs.fuse.handles import LIVE_MAX, OpenFile
from pfs.fuse.inodes import InodeTable, join

log = logging.getLogger(__name__)

#: Files whose content is produced when read, by the type their plugin declares in FileInfo.meta
#: (``info``: serverinfofs's figures): served whole per open, with direct I/O.
LIVE_TYPES = frozenset({"control", "status", "stream", "info"})
#: Files read as an endless stream (``GET ?stream=true``).
STREAM_TYPES = frozenset({"stream"})

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def fuse_errors(fn: F) -> F:
    """Turn PFS errors into the errno the kernel hands to the calling program."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except FSError as exc:
            log.debug("%s: %s (%s)", fn.__name__, exc, type(exc).__name__)
            raise pyfuse3.FUSEError(exc.errno) from None
        except KeyError:  # an inode the kernel still names but the table has forgotten
            raise pyfuse3.FUSEError(errno.ENOENT) from None
        except ValueError as exc:
            log.debug("%s: %s", fn.__name__, exc)
            raise pyfuse3.FUSEError(errno.EINVAL) from None

    return wrapper  # type: ignore[return-value]


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def forget_kernel_attrs(inode: int) -> None:
    """Make the kernel ask for ``inode``'s attributes again. Attributes only: dropping cached
    pages could wait for the page locks a write request in progress holds."""
    try:
        pyfuse3.invalidate_inode(inode, attr_only=True)
    except OSError as exc:  # ENOENT: the kernel holds nothing for this inode
        log.debug("invalidate inode %d: %s", inode, exc)


def is_control(info: FileInfo) -> bool:
    """Content made by the plugin on each read, and each write is one whole message."""
    return info.meta.type in LIVE_TYPES


def is_live(info: FileInfo) -> bool:
    # A size-0 file may still answer a read with data (the kernel would stop at i_size 0).
    return info.size == 0 or is_control(info)


class PFSOperations(pyfuse3.Operations):
    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, client: AsyncClient, *, ttl: float = 1.0, cache_entries: int = 4096) -> None:
        super().__init__()
        self.client = client
        self.ttl = ttl
        self.inodes = InodeTable()
        self.attrs: TTLCache[FileInfo] = TTLCache(ttl, cache_entries)
        self.listings: TTLCache[list[FileInfo]] = TTLCache(ttl, max(cache_entries // 16, 16))
        self.files: dict[int, OpenFile] = {}
        self.dirs: dict[int, list[tuple[str, FileInfo]]] = {}
        self._next_fh = 1
        self._uid, self._gid = os.getuid(), os.getgid()
        self._started_ns = time.time_ns()

    # Helpers.

    async def _stat(self, path: str, *, fresh: bool = False) -> FileInfo:
        info = None if fresh else self.attrs.get(path)
        if info is None:
            info = await self.client.stat(path)
            self.attrs.put(path, info)
        return info

    def _attr(self, inode: int, info: FileInfo) -> pyfuse3.EntryAttributes:
        attr = pyfuse3.EntryAttributes()
        attr.st_ino = inode
        attr.entry_timeout = self.ttl
        attr.attr_timeout = self.ttl
        kind = stat.S_IFDIR if info.is_dir else stat.S_IFREG
        attr.st_mode = kind | (info.mode & 0o7777)
        attr.st_nlink = 2 if info.is_dir else 1
        attr.st_uid, attr.st_gid = self._uid, self._gid
        size = info.size
        for handle in self.files.values():
            if handle.inode == inode and handle.dirty:
                size = handle.known_size  # data the server has not seen yet
        attr.st_size = size
        attr.st_blksize = 128 * 1024
        attr.st_blocks = (size + 511) // 512
        mtime = info.mtime_ns or self._started_ns
        attr.st_mtime_ns = attr.st_ctime_ns = attr.st_atime_ns = mtime
        return attr

    def _changed(self, path: str, *, tree: bool = False) -> None:
        """Forget cached answers about ``path`` (and below it, for a renamed or removed tree) and
        about its directory, here and in the kernel: a change made through the mount is seen at
        once, never when a stale time expires (tar: "file changed as we read it"). The listing
        of the directory's own directory goes too: its entry for the directory holds the old
        time, which a later opendir or readdirplus would hand back."""
        parent = parent_of(path)
        self.listings.drop(parent)
        self.listings.drop(parent_of(parent))
        self.attrs.drop(parent)
        if tree:
            self.attrs.drop_tree(path)
            self.listings.drop_tree(path)
        else:
            self.attrs.drop(path)
            self.listings.drop(path)
        for changed in (path, parent):
            inode = self.inodes.peek(changed)
            if inode is not None:
                forget_kernel_attrs(inode)

    async def _send_pending(self, inode: int) -> None:
        for handle in list(self.files.values()):
            if handle.inode == inode:
                await handle.flush()

    def _new_fh(self) -> int:
        fh = self._next_fh
        self._next_fh += 1
        return fh

    # Names.

    @fuse_errors
    async def lookup(self, parent_inode, name, ctx=None):
        parent = self.inodes.path(parent_inode)
        text = os.fsdecode(name)
        if text == ".":
            path = parent
        elif text == "..":
            path = parent_of(parent)
        else:
            path = join(parent, text)
        info = await self._stat(path)
        return self._attr(self.inodes.remember(path), info)

    async def forget(self, inode_list):
        for inode, count in inode_list:
            self.inodes.forget(inode, count)

    @fuse_errors
    async def getattr(self, inode, ctx=None):
        return self._attr(inode, await self._stat(self.inodes.path(inode)))

    @fuse_errors
    async def setattr(self, inode, attr, fields, fh, ctx):
        path = self.inodes.path(inode)
        if fields.update_size:
            await self._send_pending(inode)
            await self._truncate(path, attr.st_size)
            for handle in self.files.values():
                if handle.inode == inode:
                    handle.known_size = attr.st_size
        if fields.update_mode:
            await self.client.chmod(path, attr.st_mode & 0o7777)
        if fields.update_mtime:
            await self._set_mtime(inode, path, attr.st_mtime_ns)
        # uid/gid/atime are not PFS attributes: accepted and ignored, so cp -p and tar work.
        self._changed(path)
        return self._attr(inode, await self._stat(path, fresh=True))

    async def _set_mtime(self, inode: int, path: str, mtime_ns: int) -> None:
        """rsync -a and cp -p keep times where the plugin stores them; elsewhere the call
        succeeds and changes nothing, as uid/gid do."""
        await self._send_pending(inode)  # a later send would move the time again
        try:
            await self.client.set_mtime(path, mtime_ns)
        except NotSupported as exc:
            log.debug("setattr mtime: %s", exc)

    async def _truncate(self, path: str, size: int) -> None:
        info = await self._stat(path, fresh=True)
        if size == info.size:
            return
        if size == 0:
            await self.client.write(path, b"")
        elif size < info.size:
            if size > LIVE_MAX:
                raise TooLarge(f"cannot truncate to {size} bytes: {path}")
            await self.client.write(path, await self.client.cat(path, 0, size))
        else:
            if size - info.size > LIVE_MAX:
                raise TooLarge(f"cannot extend by {size - info.size} bytes: {path}")
            await self.client.write(path, bytes(size - info.size), offset=info.size)

    @fuse_errors
    async def mknod(self, parent_inode, name, mode, rdev, ctx):
        if not stat.S_ISREG(mode):
            raise pyfuse3.FUSEError(errno.ENOTSUP)
        path = self.inodes.child(parent_inode, os.fsdecode(name))
        await self._create_file(path)
        return self._attr(self.inodes.remember(path), await self._stat(path, fresh=True))

    async def _create_file(self, path: str) -> None:
        try:
            await self.client.create(path)
        except NotSupported:
            await self.client.write(path, b"")
        self._changed(path)

    @fuse_errors
    async def mkdir(self, parent_inode, name, mode, ctx):
        path = self.inodes.child(parent_inode, os.fsdecode(name))
        await self.client.mkdir(path, (mode & 0o777) or 0o755)
        self._changed(path)
        return self._attr(self.inodes.remember(path), await self._stat(path, fresh=True))

    @fuse_errors
    async def unlink(self, parent_inode, name, ctx):
        path = self.inodes.child(parent_inode, os.fsdecode(name))
        await self.client.rm(path)
        self.inodes.unlink(path)
        self._changed(path)

    @fuse_errors
    async def rmdir(self, parent_inode, name, ctx):
        try:
            await self.unlink(parent_inode, name, ctx)
        except pyfuse3.FUSEError as exc:
            # 409 reaches the SDK as AlreadyExists; for rmdir of a directory it means not empty.
            if exc.errno == errno.EEXIST:
                raise pyfuse3.FUSEError(errno.ENOTEMPTY) from None
            raise

    @fuse_errors
    async def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        old = self.inodes.child(parent_inode_old, os.fsdecode(name_old))
        new = self.inodes.child(parent_inode_new, os.fsdecode(name_new))
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise pyfuse3.FUSEError(errno.EINVAL)
        if crosses_mounts(old, new, await self.client.mounts() or []):
            raise pyfuse3.FUSEError(errno.EXDEV)  # mv(1) then copies and deletes
        no_replace = bool(flags & pyfuse3.RENAME_NOREPLACE)
        if no_replace and await self.client.exists(new):
            raise pyfuse3.FUSEError(errno.EEXIST)
        inode = self.inodes.peek(old)
        if inode is not None:
            await self._send_pending(inode)
        try:
            await self.client.mv(old, new)
        except AlreadyExists:
            if no_replace:
                raise
            # POSIX rename replaces the target; plugins that refuse get it removed first.
            await self.client.rm(new)
            await self.client.mv(old, new)
        self.inodes.rename(old, new)
        self._changed(old, tree=True)
        self._changed(new, tree=True)

    # Files.

    @fuse_errors
    async def open(self, inode, flags, ctx):
        # The kernel looked the name up a moment ago: within the TTL that answer is current.
        info = await self._stat(self.inodes.path(inode))
        if info.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        # Refuse what the mode forbids even for root: writes are sent at close(), whose error
        # most programs (the shell's `>` among them) never look at.
        access = flags & os.O_ACCMODE
        if access != os.O_RDONLY and not info.mode & 0o222:
            raise pyfuse3.FUSEError(errno.EACCES)
        if access != os.O_WRONLY and not info.mode & 0o444:
            raise pyfuse3.FUSEError(errno.EACCES)
        return self._open_handle(inode, info, flags, ctx.pid)

    def _open_handle(self, inode: int, info: FileInfo, flags: int, pid: int) -> pyfuse3.FileInfo:
        live = is_live(info)
        # Only readers follow a stream; a writer's data goes out as ordinary PUTs.
        stream = info.meta.type in STREAM_TYPES and flags & os.O_ACCMODE == os.O_RDONLY
        handle = OpenFile(
            self.client,
            inode,
            self.inodes.path,
            flags,
            live=live,
            whole_writes=is_control(info),
            size=info.size,
            stream=stream,
            reader_pid=pid,
        )
        fh = self._new_fh()
        self.files[fh] = handle
        return pyfuse3.FileInfo(fh=fh, direct_io=live, keep_cache=False, nonseekable=stream)

    @fuse_errors
    async def create(self, parent_inode, name, mode, flags, ctx):
        path = self.inodes.child(parent_inode, os.fsdecode(name))
        await self._create_file(path)
        info = await self._stat(path, fresh=True)
        inode = self.inodes.remember(path)
        return self._open_handle(inode, info, flags, ctx.pid), self._attr(inode, info)

    @fuse_errors
    async def read(self, fh, off, size):
        return await self.files[fh].read(off, size)

    @fuse_errors
    async def write(self, fh, off, buf):
        handle = self.files[fh]
        written = await handle.write(off, bytes(buf))
        self.attrs.drop(handle.path)
        self.listings.drop(parent_of(handle.path))
        return written

    @fuse_errors
    async def flush(self, fh):
        handle = self.files[fh]
        if handle.dirty:
            await handle.flush()
            self._changed(handle.path)

    @fuse_errors
    async def fsync(self, fh, datasync):
        await self.files[fh].flush()

    async def release(self, fh):
        handle = self.files.pop(fh)
        handle.drop_buffers()
        await handle.close_stream()
        try:
            await handle.flush()
        except (FSError, KeyError) as exc:
            log.warning("data lost on release: %s", exc)

    def end_stream_reads(self) -> None:
        """The mount is stopping: reads waiting for stream data answer EINTR."""
        for handle in self.files.values():
            handle.end_stream_read()

    async def flush_all(self) -> None:
        """Send what open handles still hold (on unmount)."""
        for handle in list(self.files.values()):
            try:
                await handle.flush()
            except (FSError, KeyError) as exc:
                log.warning("data lost at unmount: %s", exc)

    # Directories.

    @fuse_errors
    async def opendir(self, inode, ctx):
        path = self.inodes.path(inode)
        entries = self.listings.get(path)
        if entries is None:
            entries = await self.client.ls(path)
            self.listings.put(path, entries)
            # Only a fresh listing updates attributes: a cached one may be older than them.
            for info in entries:
                self.attrs.put(join(path, info.name), info)
        fh = self._new_fh()
        # A snapshot per open directory keeps readdir offsets stable while the tree changes.
        # Files whose read consumes or never ends are left out, so grep -r, find, tar, cp -r and
        # rsync never open them; lookup still finds them by name (cat queue/dequeue).
        self.dirs[fh] = [(join(path, info.name), info) for info in entries if not info.read_effect]
        return fh

    @fuse_errors
    async def readdir(self, fh, start_id, token):
        entries = self.dirs[fh]
        for index in range(start_id, len(entries)):
            path, info = entries[index]
            inode = self.inodes.assign(path)
            name = os.fsencode(path.rsplit("/", 1)[1])
            if not pyfuse3.readdir_reply(token, name, self._attr(inode, info), index + 1):
                self.inodes.drop_unused(inode)
                return
            self.inodes.remember(path)

    async def releasedir(self, fh):
        self.dirs.pop(fh, None)

    async def statfs(self, ctx):
        data = pyfuse3.StatvfsData()
        data.f_bsize = data.f_frsize = 4096
        data.f_blocks = data.f_bfree = data.f_bavail = 1 << 30
        data.f_files = data.f_ffree = data.f_favail = 1 << 20
        data.f_namemax = 255
        return data
