"""``GET /capabilities[?path=P]``: the server's features (AGFS's shape) and, for a path, what
the plugin serving it can do.

The per-path answers come from what the mount's plugin declares: ``random_write``, the
operations its class implements beyond the contract's refusing defaults, the mount's
``read_only``, and the ``ReadEffect`` its ``stat`` reports for the path. Never from its name.
"""

from __future__ import annotations

from typing import Any

from pfs import __version__
from pfs.fs.base import FileSystem
from pfs.fs.errors import NotFound
from pfs.fs.fileinfo import ReadEffect
from pfs.fs.paths import normalize
from pfs.http.requests import Request
from pfs.http.responses import Response, json_response
from pfs.server.requests import required_path
from pfs.server.state import State

#: What the server offers on every path (AGFS clients read this list).
FEATURES = ("handlefs", "grep", "digest", "stream", "touch", "copy", "conditional")


async def capabilities(state: State, req: Request) -> Response:
    answer: dict[str, Any] = {"version": __version__, "features": list(FEATURES)}
    if req.query.get("path"):
        answer.update(await path_capabilities(state, required_path(req)))
    return json_response(answer)


async def path_capabilities(state: State, path: str) -> dict[str, Any]:
    """What the plugin serving ``path`` can do there; NotFound outside every mount."""
    path = normalize(path)
    found = state.fs.find(path)
    if found is None:
        raise NotFound(f"capabilities: {path}: not in any mount")
    mount = found[0]
    fs = mount.fs
    try:
        effect = (await state.fs.stat(path)).read_effect
    except NotFound:  # a file not made yet: what its plugin would do with it
        effect = ReadEffect.NONE
    writable = not mount.read_only
    return {
        "path": path,
        "mount": mount.path,
        "readOnly": mount.read_only,
        "supportsRandomWrite": writable and fs.random_write,
        "supportsTruncate": writable and _implements(fs, "truncate"),
        "supportsTouch": writable and _implements(fs, "set_mtime"),
        "supportsRename": writable and _implements(fs, "rename"),
        # If-Match / If-None-Match on PUT and DELETE compare and swap in the plugin.
        "supportsConditionalWrite": writable and _implements(fs, "write_if"),
        # Every plugin's files open as handles for reading; for writing the plugin needs
        # random writes or handles of its own (a queue's, a stream's).
        "supportsFileHandle": writable and (fs.random_write or _implements(fs, "open_handle")),
        "supportsStreamRead": _implements(fs, "open_stream") or effect is ReadEffect.ENDLESS,
        "isReadDestructive": effect is ReadEffect.CONSUMES,
        "isBroadcast": effect is ReadEffect.ENDLESS,
    }


def _implements(fs: FileSystem, operation: str) -> bool:
    """Whether ``fs``'s class has its own ``operation``, not the contract's default."""
    own = getattr(type(fs), operation, None)
    return own is not None and own is not getattr(FileSystem, operation, None)
