"""Handlers for /mounts, /mount, /unmount and /plugins*."""

from __future__ import annotations

from pfs.fs.errors import InvalidArgument, MountExists
from pfs.fs.paths import normalize
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.plugin_info import plugin_infos
from pfs.server.requests import body_field, json_body
from pfs.server.state import State


async def mounts(state: State, req: Request) -> Response:
    """Every mount and every start-up mount still pending or failed, sorted by path."""
    return json_response({"mounts": state.mounting.listing() or None})


async def mount(state: State, req: Request) -> Response:
    body = await json_body(req, state.settings.max_json_bytes)
    fstype = body_field(body, "fstype", str)
    path = body_field(body, "path", str)
    config = body_field(body, "config", dict)
    if not fstype:
        raise InvalidArgument("fstype is required")
    if not path:
        raise InvalidArgument("path is required")
    if fstype not in state.mounting.registry:
        raise InvalidArgument(f"unknown filesystem type: {fstype}")
    if normalize(path) in {m.path for m in state.fs.list()}:
        raise MountExists(f"mount already exists: {normalize(path)}")
    try:
        factory, validated, read_only = state.mounting.prepare(fstype, path, config)
    except InvalidArgument as exc:
        raise exc.with_context("failed to validate plugin") from exc
    await state.mounting.mount(
        fstype, path, factory, validated, shown_config=config or None, read_only=read_only
    )
    return json_response({"message": "plugin mounted"})


async def unmount(state: State, req: Request) -> Response:
    body = await json_body(req, state.settings.max_json_bytes)
    path = body_field(body, "path", str)
    if not path:
        raise InvalidArgument("path is required")
    await state.mounting.unmount(path)
    return json_response({"message": "plugin unmounted"})


#: ``GET /plugins?format=``: the original's list of loaded libraries (the default), or AGFS's
#: list of every plugin. An ``Accept`` of AGFS_PLUGINS_TYPE asks for the latter too.
_FORMATS = ("pfs", "agfs")
AGFS_PLUGINS_TYPE = b"application/vnd.agfs.plugins+json"


async def plugins(state: State, req: Request) -> Response:
    shape = req.query.get("format") or ""
    if shape and shape not in _FORMATS:
        raise InvalidArgument(
            f"invalid argument format={shape}: expected {' or '.join(_FORMATS)}"
        )
    if shape == "agfs" or (not shape and AGFS_PLUGINS_TYPE in (req.header(b"accept") or b"")):
        return json_response({"plugins": await plugin_infos(state)})
    external = state.mounting.external
    return json_response({"loaded_plugins": external.loaded() if external is not None else []})


async def load_plugin(state: State, req: Request) -> Response:
    body = await json_body(req, state.settings.max_json_bytes)
    library_path = _library_path(body)
    # A native library's FSWrite ABI: auto (told from its results), pfs or agfs.
    abi = body_field(body, "abi", str) or "auto"
    result = await state.mounting.loader().load(library_path, abi)
    return json_response({"message": "plugin loaded successfully", **result})


async def unload_plugin(state: State, req: Request) -> Response:
    library_path = _library_path(await json_body(req, state.settings.max_json_bytes))
    await state.mounting.loader().unload(library_path)
    return json_response({"message": "plugin unloaded successfully"})


def _library_path(body: dict) -> str:
    library_path = body_field(body, "library_path", str)
    if not library_path:
        raise InvalidArgument("library_path is required")
    return library_path
