"""AGFS's ``GET /plugins`` shape: every registered fstype, built-in or external, where it is
mounted and the config keys its schema declares."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pfs.external.common import ExternalPlugin
from pfs.fs.config import Field
from pfs.fs.errors import InvalidArgument
from pfs.fs.mounts import shown_config
from pfs.server.state import State


async def plugin_infos(state: State) -> list[dict[str, Any]]:
    registry = state.mounting.registry
    # The first listing imports every installed plugin's module to read its schema: on a
    # worker thread, since some (s3fs's SDK) take a good part of a second.
    params = await asyncio.to_thread(
        lambda: {name: _config_params(state, name) for name in registry.names()}
    )
    external = state.mounting.external
    libraries = external.library_paths() if external is not None else {}
    mounted: dict[str, list[dict[str, Any]]] = {}
    for mount in state.fs.list():
        place: dict[str, Any] = {"path": mount.path}
        if mount.config:
            place["config"] = shown_config(mount.config)
        mounted.setdefault(mount.fstype, []).append(place)
    infos = []
    for name in registry.names():
        info: dict[str, Any] = {"name": name}
        if name in libraries:
            info["library_path"] = libraries[name]
        info["is_external"] = name in libraries
        info["mounted_paths"] = mounted.get(name)
        if params.get(name):
            info["config_params"] = params[name]
        infos.append(info)
    return infos


def _config_params(state: State, name: str) -> list[dict[str, Any]]:
    try:
        factory = state.mounting.registry.get(name)
    except InvalidArgument:  # an installed plugin whose extra is missing: listed, no keys
        return []
    if isinstance(factory, ExternalPlugin):  # no schema: what the plugin itself declares
        return factory.config_params
    return [_param(field) for field in factory.config_schema]


def _param(field: Field) -> dict[str, Any]:
    return {
        "name": field.key,
        "type": field.type,
        "required": field.required,
        "default": _text(field.default),
        "description": field.help,
    }


def _text(value: Any) -> str:
    """A default as AGFS lists it: always a string (``""`` for none)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)
