"""The external-plugin loader: loads native and WASM plugins from the config and at run time
(``/plugins/load``, ``/plugins/unload``) and registers each as a mountable fstype.

Everything that may block (reading and copying files, dlopen and the library's constructors,
compiling WASM) runs in a worker thread: a slow disk or plugin never stalls the event loop.
Files the loader makes (copies, downloads) live in a private directory (mode 0700), created with
O_EXCL and without following links, so nobody else can plant or swap them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pfs.external.common import ExternalPlugin
from pfs.external.detect import NATIVE, WASM, check_native_header, detect_type, kind_of, read_header
from pfs.external.native import AUTO_ABI, NativePlugin, check_abi
from pfs.external.wasm_limits import WasmLimits
from pfs.extras import needs
from pfs.fs.config import parse_size
from pfs.fs.errors import FSError, InvalidArgument, NotSupported, PermissionDenied

if TYPE_CHECKING:
    from pfs.external.wasm import WasmRuntime
    from pfs.fs.mounts import MountTable
    from pfs.plugins.registry import Registry

log = logging.getLogger("pfs.external")

_PLUGIN_SUFFIXES = (".so", ".dylib", ".dll", ".wasm")
_DUPLICATE_KEY = re.compile(r"^(.*)#(\d+)$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


class ExternalConfigError(Exception):
    """A bad ``external_plugins`` section (the CLI reports it like any config error)."""


def _bool(
    section: dict[str, Any], key: str, default: bool, where: str = "external_plugins"
) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ExternalConfigError(f"{where}.{key}: must be true or false")
    return value


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = _DURATION.match(str(value))
    if isinstance(value, bool) or not match or float(match.group(1)) <= 0:
        raise ExternalConfigError(f"{where}: must be a duration such as 5, 2.5s or 500ms")
    number = float(match.group(1))
    return number / 1000 if match.group(2) == "ms" else number


_WASM_KEYS = (
    "call_timeout", "memory_limit", "inline_calls", "acquire_timeout", "http_max_response",
    # AGFS's keys (AGFS.md §3.1); the last two are accepted and have no effect here.
    "instance_pool_size", "instance_max_lifetime", "instance_max_requests",
    "health_check_interval", "enable_pool_statistics",
)


def _count(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ExternalConfigError(f"external_plugins.wasm.{key}: must be a whole number >= 0")
    return value


def _pool_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExternalConfigError(
            "external_plugins.wasm.instance_pool_size: must be a whole number"
        )
    return value if value > 0 else WasmLimits.pool_size  # AGFS: 0 or less means the default


def _limit_seconds(section: dict[str, Any], key: str, default: float) -> float:
    """A duration that may be 0 (no limit)."""
    value = section.get(key, default)
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return _seconds(value, f"external_plugins.wasm.{key}")


def _size(section: dict[str, Any], key: str, default: int, minimum: int, floor: str) -> int:
    if key not in section:
        return default
    try:
        size = parse_size(section[key])
    except ValueError as exc:
        raise ExternalConfigError(f"external_plugins.wasm.{key}: {exc}") from None
    if size < minimum:
        raise ExternalConfigError(f"external_plugins.wasm.{key}: must be at least {floor}")
    return size


def wasm_limits(section: Any) -> WasmLimits:
    if section is None:
        return WasmLimits()
    if not isinstance(section, dict):
        raise ExternalConfigError("external_plugins.wasm: must be a mapping")
    extra = sorted(set(section) - set(_WASM_KEYS))
    if extra:
        raise ExternalConfigError(
            f"external_plugins.wasm: unknown key(s) {', '.join(extra)} "
            f"(allowed: {', '.join(_WASM_KEYS)})"
        )
    defaults = WasmLimits()
    timeout = defaults.call_timeout
    if "call_timeout" in section:
        timeout = _seconds(section["call_timeout"], "external_plugins.wasm.call_timeout")
    acquire = defaults.acquire_timeout
    if "acquire_timeout" in section:
        acquire = _seconds(section["acquire_timeout"], "external_plugins.wasm.acquire_timeout")
    _count(section, "health_check_interval", 0)
    _bool(section, "enable_pool_statistics", False, "external_plugins.wasm")
    return WasmLimits(
        call_timeout=timeout,
        memory_limit=_size(section, "memory_limit", defaults.memory_limit, 64 << 10,
                           "64KB (one WASM page)"),
        inline_calls=_bool(section, "inline_calls", False, "external_plugins.wasm"),
        pool_size=_pool_size(section.get("instance_pool_size", defaults.pool_size)),
        max_lifetime=_limit_seconds(section, "instance_max_lifetime", defaults.max_lifetime),
        max_requests=_count(section, "instance_max_requests", defaults.max_requests),
        acquire_timeout=acquire,
        http_max_response=_size(section, "http_max_response", defaults.http_max_response, 1,
                                "1 byte"),
    )


def _plugin_paths(section: dict[str, Any]) -> list[tuple[str, str]]:
    """``plugin_paths`` as (path, native ABI): an entry is a path or ``{path, abi}``."""
    entries = section.get("plugin_paths") or []
    if not isinstance(entries, list):
        raise ExternalConfigError("external_plugins.plugin_paths: must be a list of file paths")
    paths = []
    for i, entry in enumerate(entries):
        where = f"external_plugins.plugin_paths[{i}]"
        if isinstance(entry, dict):
            extra = sorted(set(entry) - {"path", "abi"})
            if extra:
                raise ExternalConfigError(
                    f"{where}: unknown key(s) {', '.join(extra)} (allowed: path, abi)"
                )
            path, abi = entry.get("path"), entry.get("abi", AUTO_ABI)
        else:
            path, abi = entry, AUTO_ABI
        if not isinstance(path, str) or not path:
            raise ExternalConfigError(f"{where}: must be a file path or {{path, abi}}")
        try:
            paths.append((path, check_abi(abi)))
        except InvalidArgument as exc:
            raise ExternalConfigError(f"{where}.{exc}") from None
    return paths


def _read_wasm(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise FSError(f"failed to read WASM file {path}: {exc.strerror}") from None


class ExternalPlugins:
    """The loaded external plugins of one server, keyed by (absolute) library path."""

    def __init__(self, registry: Registry, namespace: MountTable, section: dict[str, Any]) -> None:
        self.registry = registry
        #: Mounts of a plugin's fstype block its unload; ``pfs://`` sources are read from here.
        self.namespace = namespace
        self.plugin_dir = section.get("plugin_dir") or ""
        if not isinstance(self.plugin_dir, str):
            raise ExternalConfigError("external_plugins.plugin_dir: must be a directory path")
        self.auto_load = _bool(section, "auto_load", False)
        self.plugin_paths = _plugin_paths(section)
        self.runtime_loading = _bool(section, "allow_runtime_load", False)
        self.url_loading = _bool(section, "allow_url_load", False)
        self.limits = wasm_limits(section.get("wasm"))
        self._plugins: dict[str, ExternalPlugin] = {}
        self._suffix_counters: dict[str, int] = {}
        self._runtime: WasmRuntime | None = None
        self._lock = asyncio.Lock()
        #: The private directory of copies and downloads (made on first use, removed at stop).
        self._files_dir: str | None = None

    # -- what the mount service and the admin handlers call ------------------------------------

    def loaded(self) -> list[str]:
        """Native keys first, then WASM keys (the original's order)."""
        plugins = self._plugins.items()
        return [k for k, p in plugins if p.kind == NATIVE] + [
            k for k, p in plugins if p.kind == WASM
        ]

    def library_paths(self) -> dict[str, str]:
        """The library each loaded plugin's fstype comes from."""
        return {plugin.fstype: key for key, plugin in self._plugins.items()}

    async def startup(self) -> None:
        """Load ``plugin_paths`` (a failure stops the server) and, with ``auto_load``, every
        plugin file below ``plugin_dir`` (failures are logged: a directory may hold junk)."""
        for path, abi in self.plugin_paths:
            try:
                result = await self._load_file(os.path.abspath(path), abi=abi)
            except FSError as exc:
                raise RuntimeError(f"external_plugins.plugin_paths: {path}: {exc}") from exc
            log.info("loaded external plugin %s as %s", path, result["plugin_name"])
        if self.auto_load and self.plugin_dir:
            for path in await asyncio.to_thread(self._discover, self.plugin_dir):
                if path in self._plugins:
                    continue
                try:
                    result = await self._load_file(path)
                except FSError as exc:
                    log.error("external plugin %s not loaded: %s", path, exc)
                    continue
                log.info("auto-loaded external plugin %s as %s", path, result["plugin_name"])

    async def shutdown(self) -> None:
        for key in list(self._plugins):
            plugin = self._plugins.pop(key)
            self.registry.unregister(plugin.fstype)
            try:
                await self._release(plugin)
            except Exception:
                log.exception("releasing external plugin %s failed", key)
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        if self._files_dir is not None:
            shutil.rmtree(self._files_dir, ignore_errors=True)
            self._files_dir = None

    async def load(self, library_path: str, abi: str = AUTO_ABI) -> dict[str, Any]:
        """Load a plugin file or URL; ``abi`` is a native library's FSWrite ABI (``auto``:
        told from its results)."""
        abi = check_abi(abi)
        scheme = urlparse(library_path).scheme.lower()
        if scheme in ("http", "https", "pfs"):
            if not self.url_loading:
                raise PermissionDenied(
                    "loading plugins from URLs is not enabled "
                    "(set external_plugins.allow_url_load: true)"
                )
            path = await (
                self._download(library_path) if scheme != "pfs" else self._from_pfs(library_path)
            )
            try:
                return await self._load_file(path, downloaded=True, abi=abi)
            except BaseException:
                self._remove_owned(path)
                raise
        return await self._load_file(os.path.abspath(library_path), abi=abi)

    async def unload(self, library_path: str) -> None:
        key = os.path.abspath(library_path)
        async with self._lock:
            duplicate = _DUPLICATE_KEY.match(key)
            if duplicate and key in self._plugins and not os.path.exists(key):
                kind = WASM
            else:
                kind = await asyncio.to_thread(detect_type, key)
            plugin = self._plugins.get(key)
            if plugin is None or plugin.kind != kind:
                prefix = "WASM plugin" if kind == WASM else "plugin"
                raise FSError(f"{prefix} not loaded: {key}")
            mounted = [m.path for m in self.namespace.list() if m.fstype == plugin.fstype]
            if mounted:
                raise FSError(
                    f"plugin {plugin.fstype} is still mounted at {', '.join(mounted)}; "
                    "unmount it first"
                )
            del self._plugins[key]
            self.registry.unregister(plugin.fstype)
        await self._release(plugin)
        log.info("unloaded external plugin %s (%s)", key, plugin.fstype)

    # -- loading -----------------------------------------------------------------------------

    async def _load_file(
        self, path: str, downloaded: bool = False, abi: str = AUTO_ABI
    ) -> dict[str, Any]:
        async with self._lock:
            header = await asyncio.to_thread(read_header, path)
            kind = kind_of(path, header)
            try:
                if kind == NATIVE:
                    check_native_header(path, header)
                    plugin = await self._open_native(path, abi)
                elif abi != AUTO_ABI:
                    raise InvalidArgument(
                        f"abi {abi} applies to native libraries only; {path} is a WASM module"
                    )
                else:
                    plugin = await self._open_wasm(path)
            except FSError:
                raise
            except Exception as exc:
                # Third-party code (ctypes, wasmtime) failing in a way we did not foresee.
                log.exception("loading plugin %s failed", path)
                raise FSError(f"failed to load plugin {path}: {exc}") from None
            if downloaded and plugin.owned_file is None:
                plugin.owned_file = path
            name = plugin.original_name
            fstype = self._free_name(name)
            plugin.fstype = fstype
            self.registry.register(fstype, plugin, check_config=plugin.check_config)
            self._plugins[plugin.key] = plugin
        result: dict[str, Any] = {"plugin_name": fstype}
        if fstype != name:
            result["original_name"] = name
        result["renamed"] = fstype != name
        return result

    async def _open_native(self, path: str, abi: str) -> ExternalPlugin:
        """dlopen ``path``; a second load of the same file opens a copy (own globals)."""
        if path not in self._plugins:
            return await asyncio.to_thread(NativePlugin.open, path, abi)
        copy = await asyncio.to_thread(self._copy, path)
        try:
            plugin = await asyncio.to_thread(NativePlugin.open, copy, abi)
        except BaseException:
            self._remove_owned(copy)
            raise
        plugin.owned_file = copy
        return plugin

    def _private_dir(self) -> str:
        if self._files_dir is None:
            self._files_dir = tempfile.mkdtemp(prefix="pfs-plugins-")  # mode 0700
        return self._files_dir

    def _copy(self, path: str) -> str:
        """Copy ``path`` to a new ``<stem>.<n><ext>`` in the private directory (blocking)."""
        stem, ext = os.path.splitext(os.path.basename(path))
        directory = self._private_dir()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        n = 1
        while True:
            copy = os.path.join(directory, f"{stem}.{n}{ext}")
            try:
                fd = os.open(copy, flags, 0o700)
                break
            except FileExistsError:
                n += 1
        try:
            with open(path, "rb") as source, os.fdopen(fd, "wb") as target:
                shutil.copyfileobj(source, target)
        except OSError as exc:
            os.unlink(copy)
            raise FSError(f"failed to copy plugin {path}: {exc.strerror}") from None
        return copy

    async def _open_wasm(self, path: str) -> ExternalPlugin:
        try:
            from pfs.external.wasm import WasmPlugin, WasmRuntime
        except ImportError as exc:
            raise NotSupported(needs(f"WASM plugin {path}", exc)) from exc

        key = path
        n = 1
        while key in self._plugins:
            key = f"{path}#{n}"
            n += 1
        wasm = await asyncio.to_thread(_read_wasm, path)
        if self._runtime is None:
            self._runtime = WasmRuntime(self.limits)
        loop = asyncio.get_running_loop()
        # Compiling takes a while: keep the event loop serving meanwhile.
        return await loop.run_in_executor(
            self._runtime.executor, WasmPlugin, key, wasm, self._runtime, self.namespace, loop
        )

    def _free_name(self, name: str) -> str:
        """``name``, or ``name-<k>`` when taken (``k`` counts per base name, skipping taken)."""
        registry = self.registry
        if name not in registry:
            return name
        k = self._suffix_counters.get(name, 0)
        while True:
            k += 1
            candidate = f"{name}-{k}"
            if candidate not in registry:
                self._suffix_counters[name] = k
                return candidate

    async def _release(self, plugin: ExternalPlugin) -> None:
        aclose = getattr(plugin, "aclose", None)  # WASM: its instances shut down on their threads
        try:
            if aclose is None:
                plugin.release()
            else:
                await aclose()
        finally:
            if plugin.owned_file:
                self._remove_owned(plugin.owned_file)

    def _remove_owned(self, path: str) -> None:
        """Delete a temp copy or download once no loaded plugin uses it (a mapped library may
        lose its file: the mapping stays valid)."""
        if any(p.owned_file == path or p.key == path for p in self._plugins.values()):
            return
        try:
            os.unlink(path)
        except OSError as exc:
            log.warning("could not remove plugin file %s: %s", path, exc.strerror)

    @staticmethod
    def _discover(directory: str) -> list[str]:
        found = []
        for root, dirs, files in os.walk(os.path.abspath(directory)):
            dirs.sort()
            found += [
                os.path.join(root, f) for f in sorted(files) if f.lower().endswith(_PLUGIN_SUFFIXES)
            ]
        return found

    # -- remote sources ----------------------------------------------------------------------

    def _temp_path(self, source: str, ext: str) -> str:
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        return os.path.join(self._private_dir(), f"pfs-plugin-{digest}{ext}")

    async def _download(self, url: str) -> str:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=60, follow_redirects=True) as client:
                response = await client.get(url)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FSError(f"failed to download plugin: {exc}") from None
        if response.status_code != 200:
            raise FSError(
                "failed to download plugin: failed to download from URL: "
                f"HTTP {response.status_code}"
            )
        ext = os.path.splitext(urlparse(url).path)[1] or ".so"
        return await asyncio.to_thread(self._save, self._temp_path(url, ext), response.content)

    @staticmethod
    def _save(path: str, data: bytes) -> str:
        """Write via a new file and rename (blocking): a library loaded from ``path`` before
        stays mapped to its own (old) file instead of being overwritten under the running code."""
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pfs-plugin-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
        except OSError as exc:
            os.unlink(partial)
            raise FSError(f"failed to save plugin {path}: {exc.strerror}") from None
        return path

    async def _from_pfs(self, source: str) -> str:
        inner = source[len("pfs://") :].strip("/")
        if not inner:
            raise FSError(f"failed to read plugin from PFS: invalid pfs path: {source}")
        try:
            data = await self.namespace.read("/" + inner)
        except FSError as exc:
            raise FSError(f"failed to read plugin from PFS: {exc}") from None
        path = self._temp_path(source, os.path.splitext(inner)[1])
        return await asyncio.to_thread(self._save, path, data)
