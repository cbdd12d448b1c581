"""The /api/v1 route table: path → handler and the role each allowed method needs."""

from __future__ import annotations

from pfs.server import (
    admin,
    aliases,
    capabilities,
    copy,
    docs,
    files,
    handles,
    links,
    search,
    service,
    status,
    touch,
    truncate,
    watch,
)
from pfs.server.app import Route
from pfs.server.auth import Role

ROUTES: dict[str, Route] = {
    "/": (service.root, None),
    "/api/v1/health": (status.health, None),
    # Probes need no token, as /health (which tells the same) never did; GET only.
    "/api/v1/ready": (status.ready, None),
    "/api/v1/version": (status.version, None),
    "/api/v1/capabilities": (capabilities.capabilities, {"GET": Role.READ}),
    "/api/v1/files": (
        files.files,
        {
            "GET": Role.READ,
            "HEAD": Role.READ,
            "PUT": Role.WRITE,
            "POST": Role.WRITE,
            "DELETE": Role.WRITE,
        },
    ),
    "/api/v1/directories": (
        files.directories,
        {"GET": Role.READ, "POST": Role.WRITE, "DELETE": Role.WRITE},
    ),
    "/api/v1/stat": (files.stat, {"GET": Role.READ}),
    # AGFS's aliases of PUT /files, POST /directories and GET /directories.
    "/api/v1/write": (aliases.write, {"POST": Role.WRITE}),
    "/api/v1/mkdir": (files.directories, {"POST": Role.WRITE}),
    "/api/v1/list": (files.directories, {"GET": Role.READ}),
    "/api/v1/rename": (files.rename, {"POST": Role.WRITE}),
    "/api/v1/copy": (copy.copy, {"POST": Role.WRITE}),
    "/api/v1/chmod": (files.chmod, {"POST": Role.WRITE}),
    "/api/v1/touch": (touch.touch, {"POST": Role.WRITE}),
    "/api/v1/truncate": (truncate.truncate, {"POST": Role.WRITE}),
    "/api/v1/symlink": (links.symlink, {"POST": Role.WRITE}),
    "/api/v1/readlink": (links.readlink, {"GET": Role.READ}),
    "/api/v1/watch": (watch.watch, {"GET": Role.READ}),
    "/api/v1/grep": (search.grep, {"POST": Role.READ}),
    "/api/v1/digest": (search.digest, {"POST": Role.READ}),
    "/api/v1/mounts": (admin.mounts, {"GET": Role.READ}),
    "/api/v1/mount": (admin.mount, {"POST": Role.ADMIN}),
    "/api/v1/unmount": (admin.unmount, {"POST": Role.ADMIN}),
    "/api/v1/plugins": (admin.plugins, {"GET": Role.READ}),
    "/api/v1/plugins/load": (admin.load_plugin, {"POST": Role.ADMIN}),
    "/api/v1/plugins/unload": (admin.unload_plugin, {"POST": Role.ADMIN}),
    # Handles: {id} stands for the numeric id; the app looks such routes up by that segment.
    "/api/v1/handles": (handles.redirect, None),
    "/api/v1/handles/": (handles.listing, {"GET": Role.READ}),
    # Opening for writing also needs the write role: the handler checks that.
    "/api/v1/handles/open": (handles.open_handle, {"POST": Role.READ}),
    "/api/v1/handles/{id}": (handles.handle, {"GET": Role.READ, "DELETE": Role.READ}),
    "/api/v1/handles/{id}/read": (handles.read, {"GET": Role.READ}),
    "/api/v1/handles/{id}/write": (handles.write, {"PUT": Role.WRITE}),
    "/api/v1/handles/{id}/seek": (handles.seek, {"POST": Role.READ}),
    "/api/v1/handles/{id}/sync": (handles.sync, {"POST": Role.READ}),
    "/api/v1/handles/{id}/stat": (handles.stat, {"GET": Role.READ}),
    "/api/v1/handles/{id}/stream": (handles.stream, {"GET": Role.READ}),
    "/api/v1/handles/{id}/renew": (handles.renew, {"POST": Role.READ}),
    "/api/v1/handles/{id}/truncate": (handles.truncate, {"POST": Role.WRITE}),
    "/api/v1/handles/{id}/{op}": (handles.unknown, None),
    "/api/v1/openapi.json": (docs.openapi, {"GET": Role.READ}),
    "/docs": (docs.page, {"GET": Role.READ}),
    # Prometheus's usual place, outside /api/v1; the read role when auth is on.
    "/metrics": (status.metrics, {"GET": Role.READ}),
}
