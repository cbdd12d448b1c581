"""A loaded WASM plugin: the compiled module, a probe instance for its name and config checks, and
the instance pool that serves its mounts."""

from __future__ import annotations

import json
import logging
from typing import Any

import wasmtime

from pfs.external.common import ExternalPlugin
from pfs.external.wasm.abi import MASK32, module_version
from pfs.external.wasm.fs import WasmFS
from pfs.external.wasm.host import HOST_PATHS_KEY
from pfs.external.wasm.http_request import HTTP_HOSTS_KEY
from pfs.external.wasm.instance import Instance, Scratch
from pfs.external.wasm.pool import Pool
from pfs.external.wasm.runtime import WasmRuntime, first_line
from pfs.fs.base import FileSystem
from pfs.fs.errors import FSError, InvalidArgument

log = logging.getLogger("pfs.external")

#: Mount-config keys the server reads itself (the guest never sees them).
_SERVER_KEYS = (HOST_PATHS_KEY, HTTP_HOSTS_KEY)


class WasmPlugin(ExternalPlugin):
    """One compiled module. A probe instance answers its name, config parameters and config
    checks; mounts are served by a pool of further instances (``pool_of``)."""

    kind = "wasm"

    def __init__(
        self,
        key: str,
        wasm: bytes,
        runtime: WasmRuntime,
        root: FileSystem,
        loop: Any,
    ) -> None:
        self.runtime = runtime
        self.root = root
        self.loop = loop
        self.key = key
        try:
            self.module = wasmtime.Module(runtime.engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise InvalidArgument(f"failed to compile WASM module: {first_line(exc)}") from None
        #: 1 = the original ABI, 2 = AGFS's (5-argument fs_write, handles, shared buffers).
        self.version = module_version(self.module)
        self.exports = frozenset(e.name for e in self.module.exports)
        self.probe = Instance(self, "#probe")
        super().__init__(key, self._plugin_name())
        self.config_params = self._config_params()
        self._pool: Pool | None = None

    @property
    def fstype_or_key(self) -> str:
        return getattr(self, "fstype", "") or self.key

    def _guest_string(self, export: str) -> str:
        func = self.probe.funcs.get(export)
        if func is None:
            return ""

        def work(inst: Instance, st: Any) -> str:
            with Scratch(inst, st) as scratch:
                return scratch.string(func(st) & MASK32)

        try:
            return self.probe.run_guest(work)
        except FSError:
            return ""

    def _plugin_name(self) -> str:
        return self._guest_string("plugin_name") or "wasm-plugin"

    def _config_params(self) -> list[dict[str, Any]]:
        """``plugin_get_config_params``: ConfigParameter objects (AGFS.md §2.13); anything
        unparsable reads as none."""
        text = self._guest_string("plugin_get_config_params")
        try:
            params = json.loads(text) if text else []
        except ValueError:
            return []
        if not isinstance(params, list):
            return []
        return [
            {
                "name": str(p.get("name", "")),
                "type": str(p.get("type", "")),
                "required": bool(p.get("required", False)),
                "default": str(p.get("default", "")),
                "description": str(p.get("description", "")),
            }
            for p in params
            if isinstance(p, dict)
        ]

    # -- registry factory --------------------------------------------------------------------

    def plugin_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k not in _SERVER_KEYS}

    def check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        for key in _SERVER_KEYS:
            values = config.get(key, [])
            absolute = key == HOST_PATHS_KEY
            if not isinstance(values, list) or not all(
                isinstance(v, str) and v and (v.startswith("/") or not absolute) for v in values
            ):
                what = "absolute PFS paths" if absolute else "host names (name or name:port)"
                raise InvalidArgument(f"{self.fstype}: config key '{key}' must be a list of {what}")
        return super().check_config(config)

    def _validate(self, config: dict[str, Any]) -> None:
        error = self.probe.lifecycle("plugin_validate", config)
        if error:
            raise InvalidArgument(f"validation failed: {error}")

    def _filesystem(self, config: dict[str, Any]) -> WasmFS:
        return WasmFS(self, config)

    # -- mounts and the pool -----------------------------------------------------------------

    def pool_of(self, fs: WasmFS) -> Pool:
        if self._pool is None:
            raise FSError(f"plugin {self.fstype} is not mounted")
        return self._pool

    async def attach(self, config: dict[str, Any]) -> None:
        """A mount starts: its config becomes the one every instance is set up with."""
        if self.released:
            raise FSError(f"plugin {self.fstype} has been unloaded")
        if self._pool is None:
            self._pool = Pool(self)
        try:
            await self._pool.configure(self.plugin_config(config))
        except BaseException:
            if self.mounts == 0:
                await self._close_pool()
            raise
        self.mounts += 1
        self.live = True

    async def detach(self) -> None:
        """A mount went; with the last one the pool's instances shut down (the next mount makes
        a new pool)."""
        self.mounts -= 1
        if self.mounts == 0:
            self.live = False
            await self._close_pool()

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def aclose(self) -> None:
        """Unload: shut down what is still running."""
        await self._close_pool()
        self.release()

    def release(self) -> None:
        """Nothing to free: the stores go with the last reference, pools stop with their
        mounts."""
        self.released = True
        self.live = False
