"""The ``env`` imports: ``host_fs_*`` (guest access to the PFS namespace, limited to the calling
mount's ``host_paths`` prefixes) and ``host_http_request`` (to its ``http_allowed_hosts``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import wasmtime

from pfs.external.wasm import http_request, reentry
from pfs.external.wasm.abi import I32, I64, MASK32, MASK64, info_to_json
from pfs.fs.base import FileSystem
from pfs.fs.errors import FSError
from pfs.fs.paths import normalize

if TYPE_CHECKING:
    from pfs.external.wasm.instance import Instance

log = logging.getLogger("pfs.external")

#: Mount-config key naming the namespace prefixes the plugin's host functions may reach.
HOST_PATHS_KEY = "host_paths"


class HostFunctions:
    """The host functions of one instance, defined in its linker before instantiation.

    ``version``: the module's ABI (1 original, 2 AGFS); only ``host_fs_write``'s result differs.
    """

    def __init__(self, instance: Instance, root: FileSystem, version: int) -> None:
        self.instance = instance
        self.root = root
        self.version = version

    def define(self, linker: wasmtime.Linker) -> None:
        i32, i64 = I32, I64
        table: dict[str, tuple[list, list, Callable]] = {
            "host_fs_read": ([i32, i64, i64], [i64], self.read),
            "host_fs_write": ([i32, i32, i32], [i64], self.write),
            "host_fs_stat": ([i32], [i64], self.stat),
            "host_fs_readdir": ([i32], [i64], self.readdir),
            "host_fs_create": ([i32], [i32], self.create),
            "host_fs_mkdir": ([i32, i32], [i32], self.mkdir),
            "host_fs_remove": ([i32], [i32], self.remove),
            "host_fs_remove_all": ([i32], [i32], self.remove_all),
            "host_fs_rename": ([i32, i32], [i32], self.rename),
            "host_fs_chmod": ([i32, i32], [i32], self.chmod),
            "host_http_request": ([i32], [i64], self.http_request),
        }
        for name, (params, results, func) in table.items():
            linker.define_func(
                "env", name, wasmtime.FuncType(params, results), func, access_caller=True
            )

    def _path(self, caller: Any, ptr: int) -> str:
        """The guest's path argument, normalised and checked against the mount's ``host_paths``."""
        path = normalize(self.instance.cstring(caller, ptr & MASK32))
        frames = reentry.stack()
        allowed = frames[-1].grants.host_paths if frames else ()
        for prefix in allowed:
            prefix = normalize(prefix)
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return path
        raise FSError(
            f"permission denied: {path} is outside this mount's host_paths "
            f"({', '.join(allowed) or 'none'})"
        )

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        instance = self.instance
        return reentry.wait_serving(coro, instance.loop, instance.runtime.limits.call_timeout)

    def _error(self, caller: Any, exc: BaseException) -> int:
        message = exc.message if isinstance(exc, FSError) else str(exc)
        try:
            return self.instance.alloc(caller, message.encode(), True)
        except FSError:
            return 1

    def read(self, caller: Any, path_ptr: int, offset: int, size: int) -> int:
        try:
            path = self._path(caller, path_ptr)
            data = self._wait(self.root.read(path, offset, size))
            return self.instance.alloc(caller, data, False) | (len(data) << 32)
        except Exception as exc:
            log.debug("host_fs_read: %s", exc)
            return 0

    def write(self, caller: Any, path_ptr: int, data_ptr: int, length: int) -> int:
        try:
            path = self._path(caller, path_ptr)
            data = self.instance.buffer(caller, data_ptr & MASK32, length & MASK32)
            reply = self._wait(self.root.write(path, data)).encode()
        except Exception as exc:
            log.debug("host_fs_write: %s", exc)
            return 0
        if self.version >= 2:  # AGFS: the byte count (0 = failure or an empty write)
            return len(data)
        try:
            return self.instance.alloc(caller, reply, False) | (len(reply) << 32)
        except FSError:
            return 0

    def http_request(self, caller: Any, request_ptr: int) -> int:
        try:
            text = self.instance.cstring(caller, request_ptr & MASK32)
        except FSError:
            return 0
        frames = reentry.stack()
        hosts = frames[-1].grants.http_hosts if frames else ()
        limits = self.instance.runtime.limits
        response = http_request.perform(
            text, hosts, limits.call_timeout, limits.http_max_response
        )
        payload = json.dumps(response).encode()
        try:
            return self.instance.alloc(caller, payload, False) | (len(payload) << 32)
        except FSError:
            return 0

    def _json(self, caller: Any, path_ptr: int, op: Callable[[str], Coroutine]) -> int:
        try:
            path = self._path(caller, path_ptr)
            result = self._wait(op(path))
        except Exception as exc:
            return (self._error(caller, exc) << 32) & MASK64
        if isinstance(result, list):
            payload: Any = [info_to_json(info) for info in result]
        else:
            payload = info_to_json(result)
        return self.instance.alloc(caller, json.dumps(payload).encode(), True)

    def stat(self, caller: Any, path_ptr: int) -> int:
        return self._json(caller, path_ptr, self.root.stat)

    def readdir(self, caller: Any, path_ptr: int) -> int:
        return self._json(caller, path_ptr, self.root.readdir)

    def _op(self, caller: Any, op: Callable[[], Coroutine]) -> int:
        try:
            self._wait(op())
        except Exception as exc:
            return self._error(caller, exc)
        return 0

    def create(self, caller: Any, path_ptr: int) -> int:
        return self._op(caller, lambda: self.root.create(self._path(caller, path_ptr)))

    def mkdir(self, caller: Any, path_ptr: int, perm: int) -> int:
        return self._op(
            caller, lambda: self.root.mkdir(self._path(caller, path_ptr), perm & 0o7777)
        )

    def remove(self, caller: Any, path_ptr: int) -> int:
        return self._op(caller, lambda: self.root.remove(self._path(caller, path_ptr)))

    def remove_all(self, caller: Any, path_ptr: int) -> int:
        return self._op(caller, lambda: self.root.remove(self._path(caller, path_ptr), True))

    def rename(self, caller: Any, old_ptr: int, new_ptr: int) -> int:
        return self._op(
            caller,
            lambda: self.root.rename(self._path(caller, old_ptr), self._path(caller, new_ptr)),
        )

    def chmod(self, caller: Any, path_ptr: int, mode: int) -> int:
        return self._op(
            caller, lambda: self.root.chmod(self._path(caller, path_ptr), mode & MASK32)
        )
