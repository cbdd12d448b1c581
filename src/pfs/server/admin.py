"""Handlers for /health, /mounts, /mount, /unmount and /plugins*."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pfs import __version__
from pfs.fs.errors import AlreadyExists, FSError, InvalidArgument, PermissionDenied
from pfs.fs.paths import normalize
from pfs.server.files import body_field
from pfs.server.http import Request, Response, json_response

if TYPE_CHECKING:
    from pfs.server.app import Server

#: Mount-entry keys the server handles itself rather than the plugin.
MOUNT_KEYS = ("read_only",)


def version_info() -> dict[str, str]:
    return {
        "version": __version__,
        "gitCommit": os.environ.get("PFS_GIT_COMMIT", "unknown"),
        "buildTime": os.environ.get("PFS_BUILD_TIME", "unknown"),
    }


async def health(server: Server, req: Request) -> Response:
    return json_response({"status": "healthy", **version_info()})


async def mounts(server: Server, req: Request) -> Response:
    return json_response({"mounts": [m.public() for m in server.fs.list()] or None})


def split_mount_options(plugin: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Separate server-handled keys (``read_only``) from the plugin's own config."""
    config = dict(config)
    read_only = config.pop("read_only", False)
    if not isinstance(read_only, bool):
        raise InvalidArgument(f"{plugin}: config key 'read_only' must be a boolean")
    return config, read_only


async def mount_plugin(
    server: Server,
    fstype: str,
    path: str,
    config: dict[str, Any] | None,
    *,
    shown_config: dict[str, Any] | None = None,
    read_only: bool = False,
) -> None:
    """Validate, start and register one mount; errors carry the original's prefixes."""
    norm = normalize(path)
    config, read_only_key = split_mount_options(fstype, config or {})
    factory, validated = server.registry.prepare(fstype, {**config, "mount_path": norm})
    try:
        await server.fs.mount(
            norm,
            fstype,
            factory,
            validated,
            shown_config=shown_config,
            read_only=read_only or read_only_key,
        )
    except FSError as exc:
        if exc.status == 409 and exc.message.startswith("mount already exists"):
            raise
        exc.message = f"failed to initialize plugin: {exc.message}"
        raise
    except Exception as exc:
        raise FSError(f"failed to initialize plugin: {exc}") from exc


async def mount(server: Server, req: Request) -> Response:
    body = await server.json_body(req, "invalid request body")
    fstype = body_field(body, "fstype", str, "invalid request body")
    path = body_field(body, "path", str, "invalid request body")
    config = body_field(body, "config", dict, "invalid request body")
    if not fstype:
        raise InvalidArgument("fstype is required")
    if not path:
        raise InvalidArgument("path is required")
    if fstype not in server.registry:
        raise InvalidArgument(f"unknown filesystem type: {fstype}")
    if normalize(path) in {m.path for m in server.fs.list()}:
        raise AlreadyExists(f"mount already exists: {normalize(path)}")
    try:
        await mount_plugin(server, fstype, path, config, shown_config=config or None)
    except InvalidArgument as exc:
        if not exc.message.startswith("failed to"):
            exc.message = f"failed to validate plugin: {exc.message}"
        raise
    return json_response({"message": "plugin mounted"})


async def unmount(server: Server, req: Request) -> Response:
    body = await server.json_body(req, "invalid request body")
    path = body_field(body, "path", str, "invalid request body")
    if not path:
        raise InvalidArgument("path is required")
    await server.fs.unmount(path)
    return json_response({"message": "plugin unmounted"})


async def plugins(server: Server, req: Request) -> Response:
    loaded = server.external.loaded() if server.external is not None else []
    return json_response({"loaded_plugins": loaded})


def _loader(server: Server):
    if server.external is None or not server.external.runtime_loading:
        raise PermissionDenied(
            "permission denied: run-time plugin loading is not enabled "
            "(set external_plugins.enabled and allow_runtime_load in the config)"
        )
    return server.external


async def load_plugin(server: Server, req: Request) -> Response:
    body = await server.json_body(req, "invalid request body")
    library_path = body_field(body, "library_path", str, "invalid request body")
    if not library_path:
        raise InvalidArgument("library_path is required")
    result = await _loader(server).load(library_path)
    return json_response({"message": "plugin loaded successfully", **result})


async def unload_plugin(server: Server, req: Request) -> Response:
    body = await server.json_body(req, "invalid request body")
    library_path = body_field(body, "library_path", str, "invalid request body")
    if not library_path:
        raise InvalidArgument("library_path is required")
    await _loader(server).unload(library_path)
    return json_response({"message": "plugin unloaded successfully"})
