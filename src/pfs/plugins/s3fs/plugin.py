"""s3fs: an S3 bucket (AWS, MinIO, R2, any S3-compatible store) as a file tree.

Directories are prefixes: ``a/b`` is a directory when a marker object ``a/b/`` exists or any key
starts with ``a/b/``. Reads stream the object body; large writes go up as a multipart upload one
part at a time, so neither direction holds a whole file in memory.

aiobotocore rather than boto3: it is natively async (no ~200 µs thread handoff per call, no
thread pool to size) and exposes the response body as an async stream.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

from pfs.extras import needs
from pfs.fs import (
    REPLACE,
    WRITE_LIMIT,
    AlreadyExists,
    Field,
    FileInfo,
    FileSystem,
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
from pfs.fs.base import Expect, check_expect, resized
from pfs.fs.paths import split_parent
from pfs.plugins.s3fs._cache import MetadataCache
from pfs.plugins.s3fs._errors import error_code, s3_errors, translate
from pfs.plugins.s3fs._prefix import LAYOUT_FIELD, detect, key_root

log = logging.getLogger("pfs.plugins.s3fs")

#: Body pieces handed to the HTTP layer (the original's stream chunk size).
STREAM_CHUNK = 256 * 1024
#: S3's longest object key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: S3 takes parts of 5 MiB (except the last) to 5 GiB; 8 MiB keeps memory bounded per upload.
DEFAULT_PART_SIZE = 8 << 20
MIN_PART_SIZE = 5 << 20
MAX_PART_SIZE = 5 << 30
#: S3's largest object, and its most parts in one multipart upload.
MAX_OBJECT_SIZE = 5 << 40
#: The largest object one CopyObject copies.
COPY_OBJECT_LIMIT = 5 << 30
MAX_PARTS = 10_000
#: DeleteObjects takes at most this many keys per call.
DELETE_BATCH = 1000

F = TypeVar("F", bound=Callable[..., Any])


def _changes(*, subtree: bool = False, paths: int = 1) -> Callable[[F], F]:
    """Mark a method that changes the bucket at its first ``paths`` arguments: the cache forgets
    them once it returns or fails (a failed change may have done part of its work)."""

    def mark(method: F) -> F:
        @functools.wraps(method)
        async def run(self: S3FS, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            finally:
                for path in args[:paths]:
                    self._cache.changed(path, subtree=subtree)

        return cast(F, run)

    return mark


class S3FS(FileSystem):
    fstype = "s3fs"

    @classmethod
    def shares_state(cls, config: dict[str, Any]) -> bool:
        return True  # the bucket is the state

    config_schema = (
        Field("bucket", "string", required=True, help="bucket name"),
        Field("region", "string", default="us-east-1", help="AWS region"),
        Field("access_key_id", "string", default="", help="static credentials (with the secret)"),
        Field("secret_access_key", "string", default="", help="static credentials (with the id)"),
        Field("endpoint", "string", default="", help="custom endpoint URL (S3-compatible store)"),
        Field(
            "use_path_request_style",
            "bool",
            default=None,
            help="path-style addressing (MinIO); unset: path-style exactly with an endpoint",
        ),
        Field("prefix", "string", default="", help="key prefix this mount is confined to"),
        LAYOUT_FIELD,
        Field("disable_ssl", "bool", default=False, help="use http:// for an endpoint without one"),
        Field(
            "part_size",
            "size",
            default=DEFAULT_PART_SIZE,
            min=MIN_PART_SIZE,
            max=MAX_PART_SIZE,
            help="multipart upload part size",
        ),
        Field("cache_enabled", "bool", default=False, help="cache stat and listing answers"),
        Field("cache_ttl", "duration", default=30.0, help="how long a listing is cached"),
        Field("stat_cache_ttl", "duration", default=60.0, help="how long a stat is cached"),
        Field(
            "cache_max_size",
            "int",
            default=1000,
            min=0,
            max=1_000_000,
            help="listings cached (stat answers: 5 times as many)",
        ),
        Field(
            "connect_timeout",
            "number",
            default=5,
            min=0.1,
            max=300,
            help="seconds to connect to the endpoint",
        ),
        Field(
            "read_timeout",
            "number",
            default=60,
            min=0.1,
            max=3600,
            help="seconds to wait for a response",
        ),
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.bucket: str = config["bucket"]
        self.region: str = config["region"]
        self.prefix: str = config["prefix"].strip("/")
        #: The key this mount's objects start with; set by start() once the layout is known.
        self.prefix_layout: str = config["prefix_layout"]
        self._root = key_root(self.prefix, self.prefix_layout)
        self._cache = MetadataCache(
            config["cache_enabled"],
            config["cache_ttl"],
            config["stat_cache_ttl"],
            config["cache_max_size"],
        )
        self.part_size: int = config["part_size"]
        self._exit = contextlib.AsyncExitStack()
        self._s3: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def _endpoint_url(self) -> str | None:
        endpoint: str = self.config["endpoint"]
        if endpoint and "://" not in endpoint:
            endpoint = ("http://" if self.config["disable_ssl"] else "https://") + endpoint
        return endpoint or None

    def _addressing_style(self) -> str:
        """``path`` when asked (AGFS's ``use_path_request_style``) or, unset, with a custom
        endpoint (the original's rule); else botocore's choice (virtual-hosted where it can)."""
        path_style = self.config["use_path_request_style"]
        if path_style is None:
            path_style = bool(self.config["endpoint"])
        return "path" if path_style else "auto"

    async def start(self) -> None:
        try:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise InvalidArgument(needs("s3fs", exc)) from exc
        endpoint = self._endpoint_url()
        key_id = self.config["access_key_id"] or None
        secret = self.config["secret_access_key"] or None
        if bool(key_id) != bool(secret):
            raise InvalidArgument(
                "s3fs: access_key_id and secret_access_key must be given together"
            )
        client_config = AioConfig(
            region_name=self.region,
            connect_timeout=self.config["connect_timeout"],
            read_timeout=self.config["read_timeout"],
            # A dead endpoint must fail the request quickly, not after botocore's 5 retries.
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": self._addressing_style()},
            max_pool_connections=32,
        )
        session = get_session()
        context = f"failed to initialize s3fs: failed to access bucket {self.bucket}"
        try:
            with s3_errors(context):
                self._s3 = await self._exit.enter_async_context(
                    session.create_client(
                        "s3",
                        region_name=self.region,
                        endpoint_url=endpoint,
                        aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        config=client_config,
                    )
                )
            try:
                await self._s3.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if error_code(exc) in ("404", "NoSuchBucket"):
                    raise NotFound(f"{context}: the bucket does not exist") from exc
                raise translate(exc, context) from exc
            if self.prefix_layout == "auto":
                self.prefix_layout = await detect(self._s3, self.bucket, self.prefix)
                self._root = key_root(self.prefix, self.prefix_layout)
        except BaseException:
            await self._exit.aclose()
            raise

    async def shutdown(self) -> None:
        await self._exit.aclose()

    # -- key mapping -----------------------------------------------------------------------

    @staticmethod
    def _rel(path: str) -> str:
        """The path as s3fs messages show it: no leading slash, root = ``""``."""
        return path.strip("/")

    def _key(self, path: str) -> str:
        rel = self._rel(path)
        key = (f"{self._root}/{rel}" if rel else self._root) if self._root else rel
        if len(key.encode()) > MAX_KEY_BYTES:
            raise InvalidArgument(
                f"invalid argument path: the S3 key is {len(key.encode())} bytes, over S3's "
                f"limit of {MAX_KEY_BYTES}"
            )
        return key

    def _dir_prefix(self, path: str) -> str:
        """Every key inside directory ``path`` starts with this (``""`` for an unprefixed root)."""
        key = self._key(path)
        return f"{key}/" if key else ""

    def _meta(self) -> Meta:
        return Meta(
            "s3fs",
            "s3",
            {"region": self.region, "bucket": self.bucket, "prefix": self.prefix},
        )

    # -- lookups ---------------------------------------------------------------------------

    async def _head(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``'s key, or None (the root is never an object)."""
        if path == "/":
            return None
        try:
            with s3_errors(f"stat: {self._rel(path)}"):
                return await self._s3.head_object(Bucket=self.bucket, Key=self._key(path))
        except NotFound:
            return None

    async def _dir_exists(self, path: str) -> bool:
        if path == "/":
            return True
        with s3_errors(f"stat: {self._rel(path)}"):
            page = await self._s3.list_objects_v2(
                Bucket=self.bucket, Prefix=self._dir_prefix(path), MaxKeys=1
            )
        return bool(page.get("KeyCount") or page.get("Contents"))

    async def _require_parent(self, path: str) -> None:
        parent, _ = split_parent(path)
        if not await self._dir_exists(parent):
            raise NotFound(f"parent directory does not exist: {self._rel(parent)}")

    async def _keys_under(self, prefix: str) -> AsyncIterator[str]:
        """Every key starting with ``prefix``, page by page (1,000 keys a page)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        with s3_errors(f"list: {prefix}"):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    yield obj["Key"]

    async def _delete_keys(self, keys: list[str], context: str) -> None:
        with s3_errors(context):
            result = await self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        errors = result.get("Errors") or []
        if errors:
            first = errors[0]
            raise translate(
                _as_client_error(first.get("Code", ""), first.get("Message", "")),
                f"{context}: {first.get('Key', '')}",
            )

    # -- metadata --------------------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        cached = self._cache.stat(path)
        if cached is not None:
            return cached
        generation = self._cache.generation
        info = await self._stat(path)
        self._cache.keep_stat(path, info, generation)
        return info

    async def _stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo("/", 0, 0o755, is_dir=True, meta=self._meta())
        name = path.rsplit("/", 1)[1]
        head = await self._head(path)
        if head is not None:
            return self._object_info(name, head)
        if await self._dir_exists(path):
            return FileInfo(name, 0, 0o755, is_dir=True, meta=self._meta())
        raise NotFound(f"no such file or directory: {self._rel(path)}")

    async def readdir(self, path: str) -> list[FileInfo]:
        cached = self._cache.listing(path)
        if cached is not None:
            return cached
        generation = self._cache.generation
        entries = await self._readdir(path)
        self._cache.keep_listing(path, entries, generation)
        return entries

    async def _readdir(self, path: str) -> list[FileInfo]:
        if path != "/" and not await self._dir_exists(path):
            if await self._head(path) is not None:
                raise NotADirectory(f"not a directory: {self._rel(path)}")
            raise NotFound(f"no such directory: {self._rel(path)}")
        prefix = self._dir_prefix(path)
        now = time.time_ns()
        meta = Meta("s3fs", "s3")
        entries: list[FileInfo] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        with s3_errors(f"readdir: {self._rel(path)}"):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    name = common["Prefix"][len(prefix) :].rstrip("/")
                    if name:
                        entries.append(FileInfo(name, 0, 0o644, now, True, meta))
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(prefix) :]
                    if not name:  # the directory's own marker object
                        continue
                    mtime = int(obj["LastModified"].timestamp() * 1e9)
                    entries.append(
                        FileInfo(
                            name,
                            int(obj["Size"]),
                            0o644,
                            mtime,
                            False,
                            meta,
                            version=_version(mtime, obj.get("ETag")),
                        )
                    )
        return entries

    def _object_info(self, name: str, head: dict[str, Any]) -> FileInfo:
        mtime = int(head["LastModified"].timestamp() * 1e9)
        return FileInfo(
            name,
            int(head["ContentLength"]),
            0o644,
            mtime,
            meta=self._meta(),
            # LastModified has whole seconds: S3's own ETag tells two writes in one second apart.
            version=_version(mtime, head.get("ETag")),
        )

    async def chmod(self, path: str, mode: int) -> None:
        """S3 objects have no permission bits: accepted and ignored (as the original)."""
        if path != "/" and await self._head(path) is None and not await self._dir_exists(path):
            raise NotFound(f"no such file or directory: {self._rel(path)}")

    # -- create / delete -------------------------------------------------------------------

    @_changes()
    async def create(self, path: str) -> None:
        rel = self._rel(path)
        if path == "/" or await self._head(path) is not None or await self._dir_exists(path):
            raise AlreadyExists(f"file already exists: {rel}")
        await self._require_parent(path)
        with s3_errors(f"create: {rel}"):
            await self._s3.put_object(Bucket=self.bucket, Key=self._key(path), Body=b"")

    @_changes()
    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        rel = self._rel(path)
        if path == "/" or await self._dir_exists(path):
            raise AlreadyExists(f"directory already exists: {rel}")
        if await self._head(path) is not None:
            raise AlreadyExists(f"file already exists: {rel}")
        await self._require_parent(path)
        with s3_errors(f"mkdir: {rel}"):
            await self._s3.put_object(Bucket=self.bucket, Key=self._dir_prefix(path), Body=b"")

    @_changes(subtree=True)
    async def remove(self, path: str, recursive: bool = False) -> None:
        rel = self._rel(path)
        if path == "/" and not recursive:
            raise PermissionDenied("cannot remove root directory")
        if recursive:
            await self._remove_all(path)
            return
        if await self._head(path) is not None:
            with s3_errors(f"remove: {rel}"):
                await self._s3.delete_object(Bucket=self.bucket, Key=self._key(path))
            return
        prefix = self._dir_prefix(path)
        with s3_errors(f"remove: {rel}"):
            page = await self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=2)
        keys = [obj["Key"] for obj in page.get("Contents", ())]
        if not keys:
            raise NotFound(f"no such file or directory: {rel}")
        if keys != [prefix]:
            raise NotEmpty(f"directory not empty: {rel}")
        with s3_errors(f"remove: {rel}"):
            await self._s3.delete_object(Bucket=self.bucket, Key=prefix)

    async def _remove_all(self, path: str) -> None:
        """Delete the object at ``path`` (if any) and every key below it, 1,000 per call."""
        rel = self._rel(path)
        found = False
        if path != "/" and await self._head(path) is not None:
            found = True
            await self._delete_keys([self._key(path)], f"removeall: {rel}")
        batch: list[str] = []
        async for key in self._keys_under(self._dir_prefix(path)):
            found = True
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                await self._delete_keys(batch, f"removeall: {rel}")
                batch = []
        if batch:
            await self._delete_keys(batch, f"removeall: {rel}")
        if not found and path != "/":
            raise NotFound(f"no such file or directory: {rel}")

    @_changes(subtree=True, paths=2)
    async def rename(self, old: str, new: str) -> None:
        """Objects move by copy + delete; a directory moves key by key (not atomic)."""
        if old == "/" or new == "/":
            raise PermissionDenied("cannot rename root directory")
        if new.startswith(old + "/"):
            raise InvalidArgument(f"invalid argument newPath: cannot move {old} into itself")
        rel_old, rel_new = self._rel(old), self._rel(new)
        if await self._head(new) is not None or await self._dir_exists(new):
            raise AlreadyExists(f"file already exists: {rel_new}")
        await self._require_parent(new)
        if await self._head(old) is not None:
            await self._copy_then_delete([(self._key(old), self._key(new))], f"rename: {rel_old}")
            return
        src_prefix, dst_prefix = self._dir_prefix(old), self._dir_prefix(new)
        moves = [(k, dst_prefix + k[len(src_prefix) :]) async for k in self._keys_under(src_prefix)]
        if not moves:
            raise NotFound(f"no such file or directory: {rel_old}")
        await self._copy_then_delete(moves, f"rename: {rel_old}")

    @_changes(paths=2)
    async def copy_file(self, src: str, dst: str) -> int:
        """CopyObject: S3 copies the object itself, no byte through the server. Objects over
        CopyObject's 5 GiB are left to the streamed copy."""
        head = await self._head(src)
        if head is None:
            if src == "/" or await self._dir_exists(src):
                raise IsADirectory(f"is a directory: {self._rel(src)}")
            raise NotFound(f"no such file or directory: {self._rel(src)}")
        size = int(head["ContentLength"])
        if size > COPY_OBJECT_LIMIT:
            raise NotSupported(f"copy: {self._rel(src)}: over CopyObject's 5 GiB")
        await self._check_writable(dst, 0, REPLACE)
        with s3_errors(f"copy: {self._rel(src)}"):
            await self._s3.copy_object(
                Bucket=self.bucket,
                Key=self._key(dst),
                CopySource={"Bucket": self.bucket, "Key": self._key(src)},
            )
        return size

    async def _copy_then_delete(self, moves: list[tuple[str, str]], context: str) -> None:
        with s3_errors(context):
            for src, dst in moves:
                await self._s3.copy_object(
                    Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src}
                )
        for start in range(0, len(moves), DELETE_BATCH):
            await self._delete_keys(
                [src for src, _ in moves[start : start + DELETE_BATCH]], context
            )

    # -- read ------------------------------------------------------------------------------

    async def _get_body(self, path: str, offset: int, size: int) -> Any | None:
        """The GetObject body for the byte range, or None when the range is empty."""
        rel = self._rel(path)
        if path == "/":
            raise IsADirectory(f"is a directory: {rel}")
        offset = max(offset, 0)
        if size == 0:
            await self.stat(path)  # still report a missing file
            return None
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(path)}
        if offset or size > 0:
            end = "" if size < 0 else str(offset + size - 1)
            request["Range"] = f"bytes={offset}-{end}"
        try:
            response = await self._s3.get_object(**request)
        except Exception as exc:
            code = error_code(exc)
            if code == "InvalidRange":  # offset past the end: the range rule says empty
                return None
            if code in ("NoSuchKey", "404"):
                if await self._dir_exists(path):
                    raise IsADirectory(f"is a directory: {rel}") from None
                raise NotFound(f"no such file: {rel}") from None
            raise translate(exc, f"read: {rel}") from exc
        return response["Body"]

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        body = await self._get_body(path, offset, size)
        if body is None:
            return b""
        async with body:
            with s3_errors(f"read: {self._rel(path)}"):
                return await body.read()

    async def read_stream(self, path: str, offset: int = 0, size: int = -1) -> AsyncIterator[bytes]:
        body = await self._get_body(path, offset, size)
        return self._body_chunks(body, self._rel(path))

    @staticmethod
    async def _body_chunks(body: Any, rel: str) -> AsyncIterator[bytes]:
        if body is None:
            return
        async with body:
            with s3_errors(f"read: {rel}"):
                while chunk := await body.read(STREAM_CHUNK):
                    yield chunk

    # -- write -----------------------------------------------------------------------------

    async def _check_writable(self, path: str, offset: int, flags: WriteFlag) -> None:
        rel = self._rel(path)
        if offset or flags & WriteFlag.APPEND:
            raise NotSupported(
                f"write: {rel}: s3fs replaces whole objects (offset and append are not supported)"
            )
        if path == "/" or await self._dir_exists(path):
            raise IsADirectory(f"is a directory: {rel}")
        if flags & (WriteFlag.EXCLUSIVE) or not flags & WriteFlag.CREATE:
            exists = await self._head(path) is not None
            if exists and flags & WriteFlag.EXCLUSIVE:
                raise AlreadyExists(f"file already exists: {rel}")
            if not exists and not flags & WriteFlag.CREATE:
                raise NotFound(f"no such file or directory: {rel}")
        await self._require_parent(path)

    @_changes()
    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        await self._check_writable(path, offset, flags)
        rel = self._rel(path)
        with s3_errors(f"write: {rel}"):
            await self._s3.put_object(Bucket=self.bucket, Key=self._key(path), Body=data)
        return f"Written {len(data)} bytes to {rel}"

    @_changes()
    async def write_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """Upload part by part; ``limit`` does not apply since at most one part is buffered.

        A body smaller than one part is a single PutObject. The object appears only when the
        upload completes: a failed upload is aborted and the old content stays.
        """
        await self._check_writable(path, offset, flags)
        return await self._upload(path, chunks, {})

    async def _pinned(self, path: str, expect: Expect) -> dict[str, str]:
        """Check ``expect`` against the object now, and return the S3 condition that the
        upload or delete applies only to this very state (its ETag, or no object at all)."""
        head = await self._head(path)
        info = None if head is None else self._object_info(path.rsplit("/", 1)[1], head)
        check_expect(expect, info)
        return {"IfNoneMatch": "*"} if head is None else {"IfMatch": head["ETag"]}

    @_changes()
    async def write_if(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        expect: Expect,
        offset: int = 0,
        flags: WriteFlag = REPLACE,
        limit: int = WRITE_LIMIT,
    ) -> str:
        """S3's own conditional write: the PutObject (or CompleteMultipartUpload) carries
        ``If-Match`` with the ETag of the state checked, or ``If-None-Match: *`` when there was
        no object, so S3 itself refuses (412) if another writer came between."""
        await self._check_writable(path, offset, flags)
        return await self._upload(path, chunks, await self._pinned(path, expect))

    @_changes()
    async def remove_if(self, path: str, expect: Expect, recursive: bool = False) -> None:
        """DeleteObject with ``If-Match`` (S3 checks it); a directory has no ETag: 412."""
        condition = await self._pinned(path, expect)
        if "IfMatch" not in condition:
            raise NotFound(f"no such file or directory: {self._rel(path)}")
        with s3_errors(f"remove: {self._rel(path)}"):
            await self._s3.delete_object(Bucket=self.bucket, Key=self._key(path), **condition)

    async def _upload(
        self, path: str, chunks: AsyncIterator[bytes], condition: dict[str, str]
    ) -> str:
        rel = self._rel(path)
        key = self._key(path)
        buffer = bytearray()
        total = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                total += len(chunk)
                if len(buffer) >= self.part_size:
                    if upload_id is None:
                        with s3_errors(f"write: {rel}"):
                            started = await self._s3.create_multipart_upload(
                                Bucket=self.bucket, Key=key
                            )
                        upload_id = started["UploadId"]
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            with s3_errors(f"write: {rel}"):
                if upload_id is None:
                    await self._s3.put_object(
                        Bucket=self.bucket, Key=key, Body=bytes(buffer), **condition
                    )
                else:
                    if buffer or not parts:
                        parts.append(
                            await self._upload_part(key, upload_id, len(parts) + 1, buffer)
                        )
                    await self._s3.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                        **condition,
                    )
                    upload_id = None
        finally:
            if upload_id is not None:
                await self._abort_upload(key, upload_id)
        return f"Written {total} bytes to {rel}"

    @_changes()
    async def truncate(self, path: str, size: int) -> None:
        """S3 cannot change an object in place: the kept bytes are streamed from the old object
        into a new upload (zeros appended when growing), which replaces it once complete."""
        rel = self._rel(path)
        largest = min(MAX_OBJECT_SIZE, self.part_size * MAX_PARTS)
        if size > largest:
            raise TooLarge(
                f"truncate: {rel}: {size} bytes is over the largest object this mount can "
                f"upload ({largest} bytes: {MAX_PARTS} parts of part_size)"
            )
        head = await self._head(path)
        if head is None:
            if path == "/" or await self._dir_exists(path):
                raise IsADirectory(f"is a directory: {rel}")
            raise NotFound(f"no such file: {rel}")
        old_size = int(head["ContentLength"])
        if old_size == size:
            return
        kept = await self.read_stream(path, 0, min(old_size, size))
        await self.write_stream(path, resized(kept, size))

    async def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        with s3_errors(f"write: {key}: part {number}"):
            answer = await self._s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=bytes(data),
            )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _abort_upload(self, key: str, upload_id: str) -> None:
        try:
            await self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception:
            log.warning("could not abort multipart upload %s of %s", upload_id, key, exc_info=True)


def _version(mtime_ns: int, s3_etag: str | None) -> str:
    """An object's FileInfo version: its time and S3's ETag (hex digits, and ``-N`` for a
    multipart object)."""
    return f"{mtime_ns:x}.{(s3_etag or '').strip(chr(34))}"


def _as_client_error(code: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "DeleteObjects")
