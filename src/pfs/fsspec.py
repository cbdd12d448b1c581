"""An fsspec file system for ``pfs://host:port/path`` URLs, so pandas, dask, xarray... read PFS.

Registered through the ``fsspec.specs`` entry point::

    import pandas as pd
    df = pd.read_csv("pfs://localhost:8080/memfs/data.csv")
    df.to_csv("pfs://localhost:8080/memfs/copy.csv", index=False)

Reads are ranged ``GET /files?offset&size`` through fsspec's block cache; writes are buffered
and sent in ``block_size`` pieces (the first replaces the file, the rest carry ``offset``).
PFS errors become the builtin ``OSError`` subclasses fsspec users catch (``FileNotFoundError``...).
"""

from __future__ import annotations

import contextlib
import errno
import ssl
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import stringify_path

from pfs._mounts import crosses_mounts
from pfs.client import Client, ServerNotRunning
from pfs.client._base import walkable
from pfs.fs.errors import (
    AlreadyExists,
    FSError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from pfs.fs.fileinfo import FileInfo

DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024


@contextlib.contextmanager
def builtin_errors(path: str = "") -> Iterator[None]:
    """PFS errors as ``OSError`` (which picks FileNotFoundError etc. from the errno); a server
    that is not there is ``ConnectionRefusedError`` (a ``ConnectionError``), not the EAGAIN of
    "unavailable", which Python would turn into BlockingIOError."""
    try:
        yield
    except ServerNotRunning as exc:
        raise ConnectionRefusedError(errno.ECONNREFUSED, str(exc), path) from exc
    except FSError as exc:
        raise OSError(exc.errno, str(exc), path) from exc


class PFSFileSystem(AbstractFileSystem):
    """A PFS server as an fsspec file system.

    Args:
        host: ``host:port`` from the URL (``pfs://host:port/...``); without it ``base_url`` or
            ``$PFS_API_URL`` (else ``http://localhost:8080``) is used.
        base_url: full server URL, e.g. for https; wins over ``host``.
        token: API token (default ``$PFS_TOKEN``).
        verify: an https server's CA bundle (path or ``ssl.SSLContext``; default
            ``$PFS_CA_BUNDLE``, else the system's CAs).
        timeout: seconds per request.
        auto_mkdir: writing a file creates its missing parent directories (as object stores
            and fsspec's memory file system behave).
    """

    protocol = ("pfs",)
    root_marker = "/"

    def __init__(
        self,
        host: str | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        auto_mkdir: bool = True,
        verify: ssl.SSLContext | str | bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.host = host
        self.auto_mkdir = auto_mkdir
        self.client = Client(
            base_url or (f"http://{host}" if host else None), token=token, timeout=timeout,
            verify=verify,
        )
        # fsspec caches instances and has no close hook: the client's pooled connections are
        # closed when the instance goes (cache cleared) or at interpreter exit.
        weakref.finalize(self, self.client.close)

    # URLs.

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path.startswith("pfs://"):
            path = "/" + path[len("pfs://") :].partition("/")[2]
        return "/" + path.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        netloc = urlsplit(stringify_path(path)).netloc if "://" in path else ""
        return {"host": netloc} if netloc else {}

    def unstrip_protocol(self, name: str) -> str:
        return f"pfs://{self.host or ''}{self._strip_protocol(name)}"

    # Listing and metadata.

    def _entry(self, path: str, info: FileInfo) -> dict[str, Any]:
        entry = {
            "name": path,
            "size": info.size,
            "type": "directory" if info.is_dir else "file",
            "mode": info.mode,
            "mtime": info.mtime_ns / 1e9,
            "meta": info.meta.to_json(),
        }
        if info.read_effect:
            entry["read_effect"] = info.read_effect.value
        return entry

    def ls(self, path: str, detail: bool = True, walking: bool = False, **kwargs: Any) -> list[Any]:
        """List ``path``; ``walking`` (set by walk, so find, du, glob, get and copy) leaves out
        the files a walker must not read (see ``pfs.client._base.walkable``)."""
        path = self._strip_protocol(path)
        with builtin_errors(path):
            try:
                children = self.client.ls(path)
                if walking:
                    children = walkable(children)
            except (InvalidArgument, NotADirectory):
                # fsspec lists a file as itself.
                info = self.client.stat(path)
                if info.is_dir:
                    raise
                children = None
            if children is None:
                entries = [self._entry(path, info)]
            else:
                base = path.rstrip("/")
                entries = [self._entry(f"{base}/{child.name}", child) for child in children]
        entries.sort(key=lambda entry: entry["name"])
        return entries if detail else [entry["name"] for entry in entries]

    def walk(self, path: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """fsspec's walk, which find, du, glob, expand_path (get, copy, rm) build on, without
        the files whose read has an effect (a queue's ``dequeue``, a live stream) or that are
        write-only: they never show up in what a tree operation reads."""
        kwargs["walking"] = True  # reaches ls, and the nested walks through fsspec's recursion
        return super().walk(path, *args, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        with builtin_errors(path):
            return self._entry(path, self.client.stat(path))

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def modified(self, path: str) -> datetime:
        return datetime.fromtimestamp(self.info(path)["mtime"], tz=UTC)

    def created(self, path: str) -> datetime:
        return self.modified(path)  # PFS keeps one time per entry

    # Reading and writing whole files.

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        with builtin_errors(path):
            if start is not None and start < 0 or end is not None and end < 0:
                size = self.client.stat(path).size
                start = size + start if start is not None and start < 0 else start
                end = size + end if end is not None and end < 0 else end
            offset = max(start or 0, 0)
            length = -1 if end is None else max(end - offset, 0)
            if length == 0:
                return b""
            return self.client.cat(path, offset, length)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        with builtin_errors(path):
            if mode == "create" and self.client.exists(path):
                raise FileExistsError(path)
            self._write_new(path, value)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PFSFile:
        path = self._strip_protocol(path)
        if mode == "xb" and self.exists(path):
            raise FileExistsError(path)  # at open, like open(2); the write is exclusive too
        return PFSFile(
            self,
            path,
            mode,
            block_size=block_size or DEFAULT_BLOCK_SIZE,
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    def _write_new(self, path: str, data: bytes, flags: list[str] | None = None) -> None:
        """The first write of a file, creating missing parents when ``auto_mkdir``."""
        try:
            self.client.write(path, data, flags=flags)
        except NotFound:
            parent = path.rsplit("/", 1)[0]
            if not self.auto_mkdir or not parent or self.client.exists(parent):
                raise
            self.client.mkdir(parent, parents=True)
            self.client.write(path, data, flags=flags)

    # Changing the tree.

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        with builtin_errors(path):
            if create_parents:
                if self.client.exists(path):
                    raise FileExistsError(path)
                self.client.mkdir(path, parents=True)
            else:
                self.client.mkdir(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        if not exist_ok and self.exists(path):
            raise FileExistsError(path)
        with builtin_errors(path):
            self.client.mkdir(path, parents=True)

    def _rm(self, path: str) -> None:
        path = self._strip_protocol(path)
        with builtin_errors(path):
            self.client.rm(path)

    def rm_file(self, path: str) -> None:
        self._rm(path)

    def rmdir(self, path: str) -> None:
        self._rm(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        if recursive and maxdepth is None and isinstance(path, str) and not _has_magic(path):
            path = self._strip_protocol(path)
            if self.isdir(path):
                # One request: the server removes the whole tree.
                with builtin_errors(path):
                    self.client.rm(path, recursive=True)
                return
        super().rm(path, recursive=recursive, maxdepth=maxdepth)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        with builtin_errors(path1):
            try:
                self.client.copy(path1, path2)
            except IsADirectory:
                self.client.mkdir(path2, parents=True)  # fsspec copies trees entry by entry

    def mv(
        self,
        path1: Any,
        path2: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        single = isinstance(path1, str) and isinstance(path2, str) and not _has_magic(path1)
        if single and not self.isdir(path2):
            src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
            with builtin_errors(src):
                if not crosses_mounts(src, dst, self.client.mounts() or []):
                    try:
                        self.client.mv(src, dst)
                    except AlreadyExists:
                        self.client.rm(dst)  # mv replaces an existing file
                        self.client.mv(src, dst)
                    return
        # Across mounts (no rename there) or many sources: copy, then delete.
        super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)


class PFSFile(AbstractBufferedFile):
    """A file opened on PFS: ranged reads, buffered writes (``wb``, ``ab``)."""

    fs: PFSFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        with builtin_errors(self.path):
            return self.fs.client.cat(self.path, start, end - start)

    def _initiate_upload(self) -> None:
        self._sent = False

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        with builtin_errors(self.path):
            if self.mode == "ab":
                if data or not self._sent:
                    self.fs._write_new(self.path, data, ["append", "create"])
            elif not self._sent and self.mode == "xb":
                self.fs._write_new(self.path, data, ["create", "exclusive"])
            elif not self._sent:
                self.fs._write_new(self.path, data)  # create or replace
            elif data:
                self.fs.client.write(self.path, data, offset=self.offset)
        self._sent = True
        return True


def _has_magic(path: str) -> bool:
    return any(char in path for char in "*?[")


__all__ = ["PFSFile", "PFSFileSystem"]
