"""A mount of a WASM plugin: FileSystem calls turned into guest ``fs_*`` export calls, each on an
instance of the plugin's pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pfs.external.common import no_streaming, refuse_partial_write
from pfs.external.wasm.abi import (
    MASK32,
    guest_json,
    info_from_json,
    info_from_text,
    infos_from_text,
    unpack,
    write_result,
)
from pfs.external.wasm.handles import WasmHandle, open_handle
from pfs.external.wasm.host import HOST_PATHS_KEY
from pfs.external.wasm.http_request import HTTP_HOSTS_KEY
from pfs.external.wasm.instance import Instance, Scratch, Work
from pfs.external.wasm.reentry import Grants
from pfs.fs.base import REPLACE, Buffered, FileSystem, WriteFlag, replaces
from pfs.fs.errors import FSError, NotSupported
from pfs.fs.fileinfo import FileInfo
from pfs.fs.handles import OpenFlag

if TYPE_CHECKING:
    from pfs.external.wasm.plugin import WasmPlugin


def _func(instance: Instance, export: str) -> Any:
    func = instance.funcs.get(export)
    if func is None:
        raise FSError(f"{export} not implemented")
    return func


def _read(inst: Instance, st: Any, path: str, offset: int, size: int) -> bytes:
    func = _func(inst, "fs_read")
    with Scratch(inst, st) as scratch:
        ptr, length = unpack(func(st, scratch.put(path.encode(), True, True), offset, size))
        if ptr == 0:
            raise FSError(inst.last_error(st) or "read failed")
        return scratch.bytes(ptr, length)


def _stat(inst: Instance, st: Any, path: str) -> FileInfo:
    text = _json_call(inst, st, "fs_stat", path, True)
    if text is not None:
        info = info_from_text(text)
        if info is not None:
            return info
        result = guest_json(text, "stat")
        if result is not None:
            return info_from_json(result)
    raise FSError("stat returned null")


def _readdir(inst: Instance, st: Any, path: str) -> list[FileInfo]:
    text = _json_call(inst, st, "fs_readdir", path, False)
    if text is None:
        return []
    infos = infos_from_text(text)
    if infos is not None:
        return infos
    result = guest_json(text, "readdir")
    if result is None:
        return []
    if not isinstance(result, list):
        raise FSError("failed to unmarshal readdir result: expected an array")
    return [info_from_json(item) for item in result]


def _json_call(inst: Instance, st: Any, export: str, path: str, shared: bool) -> bytes | None:
    """An export answering JSON (or an error) for ``path``: the JSON text, None for none."""
    func = _func(inst, export)
    with Scratch(inst, st) as scratch:
        json_ptr, err_ptr = unpack(func(st, scratch.put(path.encode(), True, shared)))
        if err_ptr:
            try:
                message = scratch.string(err_ptr)
            except FSError:
                message = ""
            raise FSError(message or f"{export[3:]} failed")
        if json_ptr == 0:
            return None
        return scratch.cbytes(json_ptr)


class WasmFS(FileSystem):
    """One mount of a WASM plugin; all mounts of the fstype share the plugin's instance pool."""

    def __init__(self, plugin: WasmPlugin, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.plugin = plugin
        self.fstype = plugin.fstype  # type: ignore[misc]
        # AGFS's fs_write takes an offset and flags; the original's replaces the whole file.
        self.random_write = plugin.version >= 2  # type: ignore[misc]
        self.grants = Grants(
            tuple(config.get(HOST_PATHS_KEY) or ()), tuple(config.get(HTTP_HOSTS_KEY) or ())
        )
        self._started = False

    async def start(self) -> None:
        await self.plugin.attach(self.config)
        self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            await self.plugin.detach()

    async def _call(self, work: Work) -> Any:
        return await self.plugin.pool_of(self).run(work, self.grants)

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        return await self._call(lambda inst, st: _read(inst, st, path, offset, size))

    async def read_stream_with_info(
        self, path: str, offset: int = 0, size: int = -1
    ) -> tuple[FileInfo | None, Buffered]:
        """Both guest calls in one turn of an instance (one thread hop, not two)."""

        def work(inst: Instance, st: Any) -> tuple[FileInfo | None, Buffered]:
            try:
                info: FileInfo | None = _stat(inst, st, path)
            except FSError:
                info = None
            return info, Buffered(_read(inst, st, path, offset, size))

        return await self._call(work)

    async def open_stream(self, path: str):
        raise no_streaming(self.config, path)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        if self.plugin.version >= 2:
            return await self._write_v2(path, data, offset, flags)
        refuse_partial_write(self.fstype, path, offset, flags)

        def work(inst: Instance, st: Any) -> str:
            func = _func(inst, "fs_write")
            with Scratch(inst, st) as scratch:
                data_ptr = scratch.put(data, False)
                path_ptr = scratch.put(path.encode(), True)
                ptr, length = unpack(func(st, path_ptr, data_ptr, len(data)))
                if ptr == 0:
                    raise FSError(inst.last_error(st) or "write failed")
                return scratch.bytes(ptr, length).decode("utf-8", "replace")

        return await self._call(work)

    async def _write_v2(self, path: str, data: bytes, offset: int, flags: WriteFlag) -> str:
        # AGFS: offset -1 = "no position", as every whole-file write sends it.
        position = -1 if offset == 0 and replaces(offset, flags) else offset

        def work(inst: Instance, st: Any) -> str:
            func = _func(inst, "fs_write")
            with Scratch(inst, st) as scratch:
                # At most one argument in the shared buffer: the data (AGFS put both there).
                data_ptr = scratch.put(data, False, shared=True)
                path_ptr = scratch.put(path.encode(), True, shared=True)
                result = func(st, path_ptr, data_ptr, len(data), position, int(flags))
                _, error = write_result(result, len(data))
                if error:
                    try:
                        message = scratch.string(error)
                    except FSError:
                        message = ""
                    raise FSError(f"write failed: {message}" if message else "write failed")
                return ""

        return await self._call(work)

    async def stat(self, path: str) -> FileInfo:
        return await self._call(lambda inst, st: _stat(inst, st, path))

    async def readdir(self, path: str) -> list[FileInfo]:
        return await self._call(lambda inst, st: _readdir(inst, st, path))

    async def _err_call(self, export: str, fallback: str, *args: Any, shared: bool = False) -> None:
        def work(inst: Instance, st: Any) -> str:
            func = _func(inst, export)
            with Scratch(inst, st) as scratch:
                converted = [
                    scratch.put(a.encode(), True, shared) if isinstance(a, str) else a
                    for a in args
                ]
                ptr = func(st, *converted) & MASK32
                if ptr == 0:
                    return ""
                try:
                    return scratch.string(ptr) or fallback
                except FSError:
                    return fallback

        error = await self._call(work)
        if error:
            raise FSError(error)

    async def create(self, path: str) -> None:
        await self._err_call("fs_create", "create failed", path, shared=True)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._err_call("fs_mkdir", "mkdir failed", path, mode)

    async def remove(self, path: str, recursive: bool = False) -> None:
        if recursive and "fs_remove_all" in self.plugin.exports:
            await self._err_call("fs_remove_all", "remove_all failed", path)
        else:
            await self._err_call("fs_remove", "remove failed", path)

    async def rename(self, old: str, new: str) -> None:
        await self._err_call("fs_rename", "rename failed", old, new)

    async def chmod(self, path: str, mode: int) -> None:
        if "fs_chmod" not in self.plugin.exports:
            return
        await self._err_call("fs_chmod", "chmod failed", path, mode & MASK32)

    # -- handles (AGFS ABI) ------------------------------------------------------------------

    async def open_handle(self, path: str, flags: OpenFlag, mode: int = 0o644) -> WasmHandle:
        """The guest's own handle on ``path`` (the flags go to ``handle_open`` as they are: AGFS's
        encoding); NotSupported (501, on which FUSE clients fall back to plain reads and writes)
        when the module has no ``handle_open``."""
        if "handle_open" not in self.plugin.exports:
            raise NotSupported(
                f"openhandle: {path}: operation not supported: handle_open not implemented in "
                f"WASM plugin {self.fstype}"
            )
        return await open_handle(self.plugin.pool_of(self), self.grants, path, flags, mode)
