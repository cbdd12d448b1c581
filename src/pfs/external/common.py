"""What native and WASM plugins share: the registry-facing plugin object and config JSON."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pfs.fs.base import WriteFlag
from pfs.fs.config import Field
from pfs.fs.errors import FSError, NotFound, NotSupported, error_for_errno
from pfs.fs.paths import normalize


def config_json(config: dict[str, Any]) -> bytes:
    """The plugin config as the original sends it: compact JSON, keys sorted, ``mount_path`` in."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def full_path(config: dict[str, Any], path: str) -> str:
    """The namespace path of plugin-relative ``path`` in the mount configured by ``config``."""
    return normalize(f"{config.get('mount_path') or '/'}/{path}")


def initialize_error(message: str, code: int) -> FSError:
    """A plugin's Initialize failure, typed by the errno the plugin reported with it (the PFS
    extension ``PluginLastErrno`` / ``plugin_last_errno``: ``EINVAL`` is 400, ``EACCES`` 403,
    ``EAGAIN`` 503...). Without one it is the plugin's own failure (500): config mistakes are
    Validate's to report (400). The original chose 400 by words in the message; PFS does not
    read messages."""
    return error_for_errno(code, message)


class ExternalPlugin:
    """One loaded external plugin: a registry factory whose mounts share one instance.

    Subclasses implement ``_validate``, ``_initialize``, ``_shutdown``, ``_free`` and
    ``_filesystem``. The instance is initialised once per mount and shut down when its last mount
    goes (never freed then: the original's free-on-unmount is a use-after-free); ``release`` at
    unload shuts it down and frees it once.
    """

    kind: ClassVar[str] = ""
    #: External plugins check their own config (``check_config``), so no schema.
    config_schema: ClassVar[tuple[Field, ...]] = ()

    def __init__(self, key: str, name: str) -> None:
        self.key = key
        self.fstype = name
        self.original_name = name
        self.mounts = 0
        #: A file the loader made for this plugin (temp copy, download): deleted at unload.
        self.owned_file: str | None = None
        #: Initialised and not shut down since (Shutdown runs once per Initialize round).
        self.live = False
        self.released = False
        #: AGFS's ConfigParameter objects the plugin declares (WASM: plugin_get_config_params;
        #: AGFS's native ABI has none), listed by ``GET /plugins?format=agfs``.
        self.config_params: list[dict[str, Any]] = []

    # -- registry factory --------------------------------------------------------------------

    def check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Run the plugin's Validate; its text becomes ``failed to validate plugin: <text>``."""
        config = dict(config)
        self._validate(self.plugin_config(config))
        return config

    def plugin_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The part of a mount config the plugin sees (the server keeps its own keys)."""
        return config

    def __call__(self, config: dict[str, Any]) -> Any:
        return self._filesystem(config)

    def shares_state(self, config: dict[str, Any]) -> bool:
        """An external plugin keeps its state inside this process, as far as we can tell."""
        return False

    # -- per-mount lifecycle (called by the adapters) ----------------------------------------

    def mounted(self, config: dict[str, Any]) -> None:
        self._initialize(self.plugin_config(config))
        self.mounts += 1
        self.live = True

    def unmounted(self) -> None:
        self.mounts -= 1
        if self.mounts == 0 and self.live:
            self.live = False
            self._shutdown()

    def release(self) -> None:
        """At unload or server stop: shut the instance down and free it, exactly once."""
        if self.released:
            return
        self.released = True
        try:
            if self.live:
                self.live = False
                self._shutdown()
        finally:
            self._free()

    # -- hooks -------------------------------------------------------------------------------

    def _validate(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def _initialize(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        raise NotImplementedError

    def _free(self) -> None:
        raise NotImplementedError

    def _filesystem(self, config: dict[str, Any]) -> Any:
        raise NotImplementedError


def refuse_partial_write(fstype: str, path: str, offset: int, flags: WriteFlag) -> None:
    """The external ABIs only replace whole files: refuse offsets, append and exclusive."""
    if offset or flags & (WriteFlag.APPEND | WriteFlag.EXCLUSIVE):
        raise NotSupported(
            f"write: {path}: {fstype} only replaces whole files (no offset or append)"
        )


class StreamingNotSupported(NotFound):
    """The original answers a stream open the plugin cannot serve with 404 (API.md §3); the file
    exists, so this 404 keeps its own words instead of the not-found summary."""

    summary = None


def no_streaming(config: dict[str, Any], path: str) -> NotFound:
    return StreamingNotSupported(
        f"filesystem does not support streaming: {full_path(config, path)}"
    )
