"""A mount of a WASM plugin: FileSystem calls turned into guest ``fs_*`` export calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pfs.external.common import no_streaming, refuse_partial_write
from pfs.external.wasm.abi import MASK32, info_from_json, unpack
from pfs.external.wasm.host import HOST_PATHS_KEY
from pfs.fs.base import REPLACE, FileSystem, WriteFlag
from pfs.fs.errors import FSError
from pfs.fs.fileinfo import FileInfo

if TYPE_CHECKING:
    from pfs.external.wasm.plugin import WasmPlugin


class WasmFS(FileSystem):
    """One mount of a WASM plugin; all mounts of the fstype share the module instance."""

    def __init__(self, plugin: WasmPlugin, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.plugin = plugin
        self.fstype = plugin.fstype  # type: ignore[misc]
        self.host_paths = tuple(config.get(HOST_PATHS_KEY) or ())
        self._started = False

    async def start(self) -> None:
        if self.plugin.released:
            raise FSError(f"plugin {self.fstype} has been unloaded")
        await self.plugin.call(lambda st: self.plugin.mounted(self.config))
        self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            await self.plugin.call(lambda st: self.plugin.unmounted())

    async def _call(self, work: Callable[[Any], Any]) -> Any:
        return await self.plugin.call(work, self.host_paths)

    def _func(self, export: str) -> Any:
        func = self.plugin.funcs.get(export)
        if func is None:
            raise FSError(f"{export} not implemented")
        return func

    def _path(self, st: Any, path: str) -> int:
        return self.plugin.alloc(st, path.encode(), True)

    async def read(self, path: str, offset: int = 0, size: int = -1) -> bytes:
        func = self._func("fs_read")
        plugin = self.plugin

        def work(st: Any) -> bytes:
            ptr, length = unpack(func(st, self._path(st, path), offset, size))
            if ptr == 0:
                raise FSError(plugin.last_error(st) or "read failed")
            return plugin.buffer(st, ptr, length)

        return await self._call(work)

    async def open_stream(self, path: str):
        raise no_streaming(self.config, path)

    async def write(
        self, path: str, data: bytes, offset: int = 0, flags: WriteFlag = REPLACE
    ) -> str:
        refuse_partial_write(self.fstype, path, offset, flags)
        func = self._func("fs_write")
        plugin = self.plugin

        def work(st: Any) -> str:
            data_ptr = plugin.alloc(st, data, False)
            ptr, length = unpack(func(st, self._path(st, path), data_ptr, len(data)))
            if ptr == 0:
                raise FSError(plugin.last_error(st) or "write failed")
            return plugin.buffer(st, ptr, length).decode("utf-8", "replace")

        return await self._call(work)

    async def _json_call(self, export: str, path: str) -> Any:
        func = self._func(export)
        plugin = self.plugin

        def work(st: Any) -> Any:
            json_ptr, err_ptr = unpack(func(st, self._path(st, path)))
            if err_ptr:
                raise FSError(plugin.cstring(st, err_ptr) or f"{export[3:]} failed")
            if json_ptr == 0:
                return None
            text = plugin.cstring(st, json_ptr)
            try:
                return json.loads(text)
            except ValueError as exc:
                raise FSError(f"failed to unmarshal {export[3:]} result: {exc}") from None

        return await self._call(work)

    async def stat(self, path: str) -> FileInfo:
        result = await self._json_call("fs_stat", path)
        if result is None:
            raise FSError("stat returned null")
        return info_from_json(result)

    async def readdir(self, path: str) -> list[FileInfo]:
        result = await self._json_call("fs_readdir", path)
        if result is None:
            return []
        if not isinstance(result, list):
            raise FSError("failed to unmarshal readdir result: expected an array")
        return [info_from_json(item) for item in result]

    async def _err_call(self, export: str, fallback: str, *args: Any) -> None:
        func = self._func(export)
        plugin = self.plugin

        def work(st: Any) -> str:
            converted = [self._path(st, a) if isinstance(a, str) else a for a in args]
            ptr = func(st, *converted) & MASK32
            if ptr == 0:
                return ""
            try:
                return plugin.cstring(st, ptr) or fallback
            except FSError:
                return fallback

        error = await self._call(work)
        if error:
            raise FSError(error)

    async def create(self, path: str) -> None:
        await self._err_call("fs_create", "create failed", path)

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        await self._err_call("fs_mkdir", "mkdir failed", path, mode)

    async def remove(self, path: str, recursive: bool = False) -> None:
        if recursive and "fs_remove_all" in self.plugin.funcs:
            await self._err_call("fs_remove_all", "remove_all failed", path)
        else:
            await self._err_call("fs_remove", "remove failed", path)

    async def rename(self, old: str, new: str) -> None:
        await self._err_call("fs_rename", "rename failed", old, new)

    async def chmod(self, path: str, mode: int) -> None:
        if "fs_chmod" not in self.plugin.funcs:
            return
        await self._err_call("fs_chmod", "chmod failed", path, mode & MASK32)
