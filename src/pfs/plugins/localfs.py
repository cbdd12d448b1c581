"""localfs: a directory of the server's machine, with no way out of it.

Every path is resolved from a directory descriptor of ``local_dir`` one component at a time with
``O_NOFOLLOW`` (openat-style), so neither ``..``, an absolute path, a symlink inside ``local_dir``
nor a symlink swapped in during the request reaches anything outside. Symlinks are real ones on
disk (``POST /symlink`` makes them with a relative target); the OS never follows them: a path
crossing one raises LinkInPath with the target, and the mount table follows it, only ever to
another path of this mount (a link whose target is absolute or climbs out of ``local_dir`` is
refused). Large reads and writes move in 1 MiB pieces on worker threads, off the event loop, as
do recursive removes and listings of big directories.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import secrets
import shutil
import stat as st
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pfs.fs import (
    REPLACE,
    WRITE_LIMIT,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
    FSError,
    InsufficientStorage,
    InvalidArgument,
    IsADirectory,
    Meta,
    NotADirectory,
    NotEmpty,
    NotFound,
    NotSupported,
    PermissionDenied,
    TooLarge,
    WriteFlag,
)
from pfs.fs.base import Expect, check_expect, replaces
from pfs.fs.links import LINK_TYPE, LinkInPath
from pfs.plugins.gomode import go_file_mode, unix_mode_bits
from pfs.plugins.local_changes import UPLOAD_MARK, LocalChanges

#: Bytes moved per thread hand-off; large enough that the hand-off cost disappears.
IO_CHUNK = 1 << 20
#: Directories up to this many entries are listed on the loop (well under a millisecond);
#: bigger ones on a thread.
SMALL_LISTING = 256

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not hang the server; only regular files are served anyway.
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class SymlinkRefused(PermissionDenied):
    """A path crosses a symlink that leads out of ``local_dir``: never followed."""


#: errno → (error class, message template); the wording is the original server's.
_OS_ERRORS: dict[int, tuple[type[FSError], str]] = {
    errno.ENOENT: (NotFound, "no such file or directory: {path}"),
    errno.EEXIST: (AlreadyExists, "file already exists: {path}"),
    errno.ENOTEMPTY: (NotEmpty, "directory not empty: {path}"),
    errno.EISDIR: (IsADirectory, "is a directory: {path}"),
    errno.ENOTDIR: (NotADirectory, "not a directory: {path}"),
    errno.ELOOP: (SymlinkRefused, "{op}: {path}: refusing to follow a symlink"),
    errno.EFBIG: (TooLarge, "{op}: {path}: file too large"),
    **dict.fromkeys(
        (errno.ENOSPC, errno.EDQUOT),
        (InsufficientStorage, "{op}: {path}: no space left on the device ({reason})"),
    ),
    **dict.fromkeys(
        (errno.EACCES, errno.EPERM, errno.EROFS),
        (PermissionDenied, "{op}: {path}: permission denied"),
    ),
    **dict.fromkeys(
        (errno.EINVAL, errno.ENAMETOOLONG, errno.EXDEV),
        (InvalidArgument, "invalid argument {path}: {reason}"),
    ),
}


@contextmanager
def os_errors(path: str, op: str) -> Iterator[None]:
    """Translate OSError from the local file system into the PFS error tree."""
    try:
        yield
    except FSError:
        raise
    except OSError as exc:
        error, template = _OS_ERRORS.get(exc.errno, (FSError, "{op}: {path}: {reason}"))
        raise error(template.format(op=op, path=path, reason=exc.strerror)) from exc


def _components(path: str) -> list[str]:
    parts = [part for part in path.split("/") if part]
    for part in parts:
        # The mount table already cleans paths; refuse anything that would climb regardless.
        if part in (".", "..") or "\x00" in part:
            raise InvalidArgument(f"invalid argument path: {path}")
    return parts


class LocalFS(FileSystem):
    fstype = "localfs"
    config_schema = (
        Field("local_dir", "string", required=True, help="the directory served at the mount"),
        Field(
            "watch_outside",
            "bool",
            default=True,
            help="tell watchers (/api/v1/watch) of changes made to the directory by others "
            "(inotify, while a watch covers the mount)",
        ),
    )
    random_write = True
    stores_links = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.base = os.path.abspath(os.path.expanduser(config["local_dir"]))
        self.base_fd = -1
        self._changes: LocalChanges | None = None

    async def start(self) -> None:
        try:
            self.base_fd = os.open(self.base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise InvalidArgument(f"base path does not exist: {self.base}") from None
        except NotADirectoryError:
            raise InvalidArgument(f"base path is not a directory: {self.base}") from None
        except OSError as exc:
            raise InvalidArgument(
                f"base path cannot be opened: {self.base}: {exc.strerror}"
            ) from None
        context = self.context
        if self.config.get("watch_outside", True) and context and context.events is not None:
            self._changes = LocalChanges(self.base, context.path, context.events)
            context.events.add_source(context.path, self._changes.watched)

    async def shutdown(self) -> None:
        if self._changes is not None:
            self._changes.hub.remove_source(self._changes.mount_path)
            await self._changes.close()
            self._changes = None
        if self.base_fd >= 0:
            os.close(self.base_fd)
            self.base_fd = -1

    # -- resolution ------------------------------------------------------------------------

    def _open_dir(
        self, parts: list[str], path: str, op: str, missing: str = "parent directory does not exist"
    ) -> int:
        """A new descriptor of the directory ``parts`` below the base, no symlink crossed."""
        fd = os.dup(self.base_fd)
        try:
            for index, part in enumerate(parts):
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    shown = "/" + "/".join(parts[: index + 1])
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and self._is_link(part, fd):
                        raise self._crossing(parts[: index + 1], fd, path, op) from None
                    if exc.errno == errno.ENOENT:
                        raise NotFound(f"{missing}: {shown}") from None
                    if exc.errno == errno.ENOTDIR:
                        raise NotADirectory(f"not a directory: {shown}") from None
                    raise
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _crossing(parts: list[str], dir_fd: int, path: str, op: str) -> Exception:
        """What to raise for the symlink ``parts[-1]`` in ``dir_fd`` met on the way to ``path``:
        LinkInPath for the mount table to follow, or a refusal when it leads out."""
        link = "/" + "/".join(parts)
        try:
            target = _inside(parts[:-1], os.readlink(parts[-1], dir_fd=dir_fd))
        except OSError:
            target = None
        if target is None:
            return SymlinkRefused(
                f"{op}: {path}: refusing to follow the symlink {link} (it leads outside local_dir)"
            )
        return LinkInPath(link, target)

    @staticmethod
    def _is_link(name: str, dir_fd: int) -> bool:
        try:
            return st.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    @contextmanager
    def _parent(self, path: str, op: str) -> Iterator[tuple[int, str]]:
        """(descriptor of the parent directory, last component) of a non-root ``path``."""
        parts = _components(path)
        if not parts:
            raise PermissionDenied(f"{op}: {path}: permission denied (the mount root)")
        with os_errors(path, op):
            fd = self._open_dir(parts[:-1], path, op)
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def _open_file(
        self, path: str, flags: int, op: str, missing: str = "no such file or directory"
    ) -> int:
        """Open a regular file under the base without following any symlink."""
        with self._parent(path, op) as (dir_fd, name), os_errors(path, op):
            try:
                fd = os.open(name, flags | _FILE_FLAGS, 0o644, dir_fd=dir_fd)
            except FileNotFoundError:
                raise NotFound(f"{missing}: {path}") from None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EMLINK) and self._is_link(name, dir_fd):
                    raise self._crossing(_components(path), dir_fd, path, op) from None
                if exc.errno == errno.ENXIO:
                    # A FIFO without a reader (O_NONBLOCK write) or a socket: not a file.
                    raise PermissionDenied(f"{op}: {path}: not a regular file") from None
                raise
        try:
            info = os.fstat(fd)
            if st.S_ISDIR(info.st_mode):
                raise IsADirectory(f"is a directory: {path}")
            if not st.S_ISREG(info.st_mode):
                raise PermissionDenied(f"{op}: {path}: not a regular file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _info(
        self, name: str, info: os.stat_result, local_path: str | None, dir_fd: int = -1
    ) -> FileInfo:
        is_dir = st.S_ISDIR(info.st_mode)
        content = {"local_path": local_path} if local_path is not None else None
        kind = "local"
        if st.S_ISLNK(info.st_mode) and dir_fd >= 0:
            kind = LINK_TYPE
            try:
                content = {**(content or {}), "target": os.readlink(name, dir_fd=dir_fd)}
            except OSError:
                pass
        return FileInfo(
            name,
            0 if is_dir else info.st_size,
            go_file_mode(info.st_mode),
            info.st_mtime_ns,
            is_dir,
            Meta("localfs", kind, content),
            # Every replacing write renames a new inode in: the ETag changes even when size and
            # the kernel's coarse mtime do not.
            version=f"{info.st_ino:x}.{info.st_mtime_ns:x}",
        )

    # -- metadata --------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        parts = _components(path)
        local = os.path.join(self.base, *parts)
        if not parts:
            return self._info(os.path.basename(self.base) or "/", os.fstat(self.base_fd), local)
        with self._parent(path, "stat") as (dir_fd, name), os_errors(path, "stat"):
            # A symlink is described, not followed.
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            return self._info(name, info, local, dir_fd)

    async def readdir(self, path: str) -> list[FileInfo]:
        with os_errors(path, "readdir"):
            fd = self._open_dir(_components(path), path, "readdir", "no such file or directory")
        try:
            entries = self._list(fd, SMALL_LISTING)
            if entries is None:  # a big directory: listed again, whole, on a thread
                entries = await _on_thread(fd, self._list)
        finally:
            os.close(fd)
        return entries

    def _list(self, fd: int, limit: int = -1) -> list[FileInfo] | None:
        """The entries of the directory ``fd`` by name; None when there are more than ``limit``."""
        entries = []
        with os.scandir(fd) as listing:
            for entry in listing:
                if len(entries) == limit:
                    return None
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append(self._info(entry.name, info, None, fd))
        entries.sort(key=lambda e: e.name)
        return entries

    async def chmod(self, path: str, mode: int) -> None:
        if not _components(path):
            os.fchmod(self.base_fd, unix_mode_bits(mode))
            return
        with self._parent(path, "chmod") as (dir_fd, name), os_errors(path, "chmod"):
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                if st.S_ISLNK(os.fstat(fd).st_mode):
                    raise self._crossing(_components(path), dir_fd, path, "chmod")
                # The descriptor pins the inode; its /proc link cannot be redirected.
                os.chmod(f"/proc/self/fd/{fd}", unix_mode_bits(mode))
            finally:
                os.close(fd)

    async def set_mtime(self, path: str, mtime_ns: int) -> None:
        if not _components(path):
            os.utime(self.base_fd, ns=(os.fstat(self.base_fd).st_atime_ns, mtime_ns))
            return
        with self._parent(path, "touch") as (dir_fd, name), os_errors(path, "touch"):
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                info = os.fstat(fd)
                if st.S_ISLNK(info.st_mode):
                    raise self._crossing(_components(path), dir_fd, path, "touch")
                # As in chmod: the descriptor pins the inode; the access time is kept.
                os.utime(f"/proc/self/fd/{fd}", ns=(info.st_atime_ns, mtime_ns))
            finally:
                os.close(fd)

    async def truncate(self, path: str, size: int) -> None:
        if not _components(path):
            raise IsADirectory(f"is a directory: {path}")
        fd = self._open_file(path, os.O_WRONLY, "truncate")
        try:
            with os_errors(path, "truncate"):
                # Extending makes a sparse file at once on most file systems, but not on all:
                # on a thread either way.
                await _on_thread(fd, os.ftruncate, size)
        finally:
            os.close(fd)

    async def symlink(self, path: str, target: str) -> None:
        # Stored relative to the link's directory, so the link also works for programs on the
        # server's machine, and wherever local_dir is moved.
        relative = posixpath.relpath(target, posixpath.dirname(path))
        with self._parent(path, "symlink") as (dir_fd, name), os_errors(path, "symlink"):
            os.symlink(relative, name, dir_fd=dir_fd)

    async def readlink(self, path: str) -> str:
        parts = _components(path)
        with self._parent(path, "readlink") as (dir_fd, name), os_errors(path, "readlink"):
            text = os.readlink(name, dir_fd=dir_fd)
        target = _inside(parts[:-1], text)
        if target is None:
            raise SymlinkRefused(f"readlink: {path}: the link leads outside local_dir ({text})")
        return target

    # -- namespace changes -----------------------------------------------------------------

    async def create(self, path: str) -> None:
        with self._parent(path, "create") as (dir_fd, name), os_errors(path, "create"):
            fd = os.open(
                name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o666, dir_fd=dir_fd
            )
            os.close(fd)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        with self._parent(path, "mkdir") as (dir_fd, name):
            try:
                os.mkdir(name, mode or 0o755, dir_fd=dir_fd)
            except FileExistsError:
                raise AlreadyExists(f"directory already exists: {path}") from None
            except OSError:
                with os_errors(path, "mkdir"):
                    raise

    async def remove(self, path: str, recursive: bool = False) -> None:
        with self._parent(path, "remove") as (dir_fd, name), os_errors(path, "remove"):
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not st.S_ISDIR(info.st_mode):
                os.unlink(name, dir_fd=dir_fd)
            elif recursive:
                # rmtree with dir_fd walks by descriptors and never follows symlinks.
                await _on_thread(dir_fd, _rmtree_at, name)
            else:
                os.rmdir(name, dir_fd=dir_fd)

    async def rename(self, old: str, new: str) -> None:
        with (
            self._parent(old, "rename") as (old_fd, old_name),
            self._parent(new, "rename") as (new_fd, new_name),
            os_errors(old, "rename"),
        ):
            os.stat(old_name, dir_fd=old_fd, follow_symlinks=False)
            os.rename(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)

    # -- data ------------------------------------------------------------------------------

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        parts = []
        async for chunk in await self.read_stream(path, offset, size):
            parts.append(chunk)
        return b"".join(parts)

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        if not _components(path):
            raise IsADirectory(f"is a directory: {path}")
        fd = self._open_file(path, os.O_RDONLY, "open", missing="no such file")
        return _read_pieces(fd, max(offset, 0), size)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        return await self.write_stream(path, _one(data), offset, flags)

    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        # Written straight to disk, so the body limit for buffering plugins does not apply.
        if replaces(offset, flags):
            total = await self._replace(path, chunks, flags)
        else:
            total = await self._write_in_place(path, chunks, max(offset, 0), flags)
        return f"Written {total} bytes to {path}"

    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """A replacing write whose condition is checked (by lstat) right before the rename that
        swaps the new content in, with no await between: atomic against every change through
        this server. A writer outside the server that changes the file in the microseconds
        between that lstat and the rename is not seen (POSIX has no compare-and-rename)."""
        if not replaces(offset, flags):
            raise NotSupported(
                f"conditional write: {path}: localfs compares and swaps whole files only "
                "(write without offset or append)"
            )
        self._check(path, expect)  # an early 412, before the body is taken
        total = await self._replace(path, chunks, flags, expect)
        return f"Written {total} bytes to {path}"

    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        self._check(path, expect)  # no await between this and the unlink
        await self.remove(path, recursive)

    def _check(self, path: str, expect: Expect) -> None:
        try:
            info: FileInfo | None = self._lstat(path)
        except NotFound:
            info = None
        check_expect(expect, info)

    def _lstat(self, path: str) -> FileInfo:
        parts = _components(path)
        if not parts:
            return self._info("/", os.fstat(self.base_fd), None)
        with self._parent(path, "stat") as (dir_fd, name), os_errors(path, "stat"):
            return self._info(name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False), None)

    async def _replace(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        flags: WriteFlag,
        expect: Expect | None = None,
    ) -> int:
        """Write into a temporary sibling and rename it over ``path`` once the body is complete,
        so a failed or abandoned upload leaves the old content in place. With ``expect``, the
        rename happens only if it holds then."""
        with self._parent(path, "write") as (dir_fd, name), os_errors(path, "write"):
            mode = 0o644
            try:
                old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if not flags & WriteFlag.CREATE:
                    raise NotFound(f"no such file or directory: {path}") from None
            else:
                if st.S_ISDIR(old.st_mode):
                    raise IsADirectory(f"is a directory: {path}")
                if st.S_ISLNK(old.st_mode):
                    raise self._crossing(_components(path), dir_fd, path, "write")
                if not st.S_ISREG(old.st_mode):
                    raise PermissionDenied(f"write: {path}: not a regular file")
                mode = st.S_IMODE(old.st_mode)
            temp = f".{name}{UPLOAD_MARK}{secrets.token_hex(4)}"
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o600, dir_fd=dir_fd
            )
            try:
                try:
                    total = await _write_pieces(fd, chunks, 0)
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
                if expect is not None:
                    self._check(path, expect)
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with os_errors(path, "write"):
                    try:
                        os.unlink(temp, dir_fd=dir_fd)
                    except FileNotFoundError:
                        pass
                raise
        return total

    async def _write_in_place(
        self, path: str, chunks: AsyncIterator[bytes], offset: int, flags: WriteFlag
    ) -> int:
        fd, created = self._open_for_write(path, flags)
        size_before = os.fstat(fd).st_size
        try:
            if flags & WriteFlag.APPEND:
                offset = size_before
            with os_errors(path, "write"):
                return await _write_pieces(fd, chunks, offset)
        except BaseException:
            if created:  # a failed write leaves no new empty file behind
                with self._parent(path, "write") as (dir_fd, name), os_errors(path, "write"):
                    os.unlink(name, dir_fd=dir_fd)
            elif not flags & WriteFlag.TRUNCATE:
                # A failed append (say, out of space) takes back what it added; bytes an offset
                # write overwrote inside the old size stay written.
                with os_errors(path, "write"):
                    os.ftruncate(fd, size_before)
            raise
        finally:
            os.close(fd)

    def _open_for_write(self, path: str, flags: WriteFlag) -> tuple[int, bool]:
        """The file opened for an in-place write, and whether this call created it."""
        open_flags = os.O_WRONLY | (os.O_TRUNC if flags & WriteFlag.TRUNCATE else 0)
        if not flags & WriteFlag.EXCLUSIVE:
            try:
                return self._open_file(path, open_flags, "write"), False
            except NotFound:
                if not flags & WriteFlag.CREATE:
                    raise
        return self._open_file(path, open_flags | os.O_CREAT | os.O_EXCL, "write"), True


def _inside(directory: list[str], text: str) -> str | None:
    """The path below the base that the link text ``text`` in ``directory`` (components from
    the base) leads to; None when it leads out (absolute, or climbing above the base)."""
    if text.startswith("/"):
        return None
    stack = list(directory)
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
        else:
            stack.append(part)
    return "/" + "/".join(stack)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _on_thread(fd: int, job: Callable[..., Any], *args: Any) -> asyncio.Future:
    """Run ``job(copy_of_fd, *args)`` on a worker thread.

    The thread works on its own duplicate of ``fd``, so the caller may close ``fd`` at any time
    (a cancelled request does not wait for the thread, and the number is never reused under it).
    The job always runs: the returned future is shielded, so cancelling the awaiting task does
    not drop the job (and with it the duplicate) before it starts.
    """
    copy = os.dup(fd)

    def run() -> Any:
        try:
            return job(copy, *args)
        finally:
            os.close(copy)

    future = asyncio.get_running_loop().run_in_executor(None, run)
    shielded = asyncio.shield(future)
    for each in (future, shielded):
        each.add_done_callback(_fetch_outcome)
    return shielded


def _fetch_outcome(future: asyncio.Future) -> None:
    """Mark a future's failure as seen: an abandoned job's error is of no interest to anyone."""
    if not future.cancelled():
        future.exception()


async def _read_pieces(fd: int, offset: int, size: int) -> AsyncIterator[bytes]:
    """The file in ``IO_CHUNK`` pieces, the next piece read on a thread while one is sent."""
    remaining = size if size >= 0 else -1
    position = offset
    pending: asyncio.Future | None = None
    try:
        while remaining != 0:
            step = IO_CHUNK if remaining < 0 else min(IO_CHUNK, remaining)
            if pending is None:
                pending = _on_thread(fd, os.pread, step, position)
            piece = await pending
            pending = None
            position += len(piece)
            if remaining > 0:
                remaining -= len(piece)
            # A short piece is the end of the file: no read-ahead (and no extra thread hop).
            at_end = len(piece) < step
            if remaining != 0 and not at_end:
                ahead = IO_CHUNK if remaining < 0 else min(IO_CHUNK, remaining)
                pending = _on_thread(fd, os.pread, ahead, position)
            if piece:
                yield piece
            if at_end:
                return
    finally:
        os.close(fd)


async def _write_pieces(fd: int, chunks: AsyncIterator[bytes], offset: int) -> int:
    """Write the body gathered into ``IO_CHUNK`` pieces, each on a thread while the next
    piece arrives; returns the bytes written. A write still running when the request fails
    finishes on its own duplicate descriptor."""
    pending: asyncio.Future | None = None
    parts: list[bytes] = []
    gathered = 0
    total = 0
    async for chunk in chunks:
        parts.append(chunk)
        gathered += len(chunk)
        if gathered >= IO_CHUNK:
            if pending is not None:
                await pending
            pending = _on_thread(fd, _pwrite_all, b"".join(parts), offset)
            offset += gathered
            total += gathered
            parts, gathered = [], 0
    if pending is not None:
        await pending
    if parts:
        await _on_thread(fd, _pwrite_all, b"".join(parts), offset)
        total += gathered
    return total


def _rmtree_at(dir_fd: int, name: str) -> None:
    shutil.rmtree(name, dir_fd=dir_fd)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
