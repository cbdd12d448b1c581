"""The MCP tools: the original pfs-mcp's ``pfs_*`` tools plus queue helpers, over the async SDK.

Results are one text item (JSON for structured answers, like the original). A PFS error raises
``ToolError`` with the server's message, which the client receives as a tool error
(``isError: true``) carrying that text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from pfs.client import AsyncClient
from pfs.fs.errors import FSError

INTRODUCTION = """\
PFS (plugin file system) serves every backend as files over one HTTP API: queues (queuefs),
key/value stores (kvfs), in-memory trees (memfs), streams (streamfs), SQL databases (sqlfs),
S3 buckets (s3fs), local directories (localfs) and remote PFS servers (proxyfs) are mounted at
paths. Use pfs_mounts to see what is mounted, pfs_ls/pfs_stat to explore, pfs_cat/pfs_write to
read and write. A queue is a directory with control files: write enqueue to add a message, read
dequeue to take the oldest one (JSON {"id","data","timestamp"}, or {} when empty), peek to look
at it, size for the count (pfs_enqueue/pfs_dequeue do this for you). Reading dequeue consumes.
"""


#: Longest a pfs_dequeue may wait for a message (the server's limit).
MAX_DEQUEUE_WAIT = 60
#: Longest a pfs_watch call watches, and most events it returns.
WATCH_SECONDS = 300
WATCH_EVENTS = 10_000


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Report PFS failures to the model with the server's own message."""
    try:
        yield
    except FSError as exc:
        raise ToolError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise ToolError(str(exc)) from exc


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def as_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "[Binary content, base64 encoded]\n" + base64.b64encode(data).decode("ascii")


def build_server(client: AsyncClient) -> MCPServer:
    server = MCPServer("pfs-mcp", instructions=INTRODUCTION)

    @server.prompt(name="pfs_introduction", description="An overview of PFS and its tools")
    def pfs_introduction() -> str:
        return INTRODUCTION

    @server.tool()
    async def pfs_ls(path: str = "/") -> str:
        """List a directory: one JSON object per entry (name, size, mode, modTime, isDir, meta)."""
        with tool_errors():
            return to_json([info.to_json() for info in await client.ls(path)])

    @server.tool()
    async def pfs_cat(path: str, offset: int = 0, size: int = -1) -> str:
        """Read a file (from offset, size bytes; -1 = to the end). Binary content is base64."""
        with tool_errors():
            return as_text(await client.cat(path, offset, size))

    @server.tool()
    async def pfs_write(path: str, content: str) -> str:
        """Write text to a file (create or replace); returns the server's message."""
        with tool_errors():
            return await client.write(path, content.encode("utf-8"))

    @server.tool()
    async def pfs_mkdir(path: str, mode: str = "755") -> str:
        """Create a directory (mode in octal text)."""
        with tool_errors():
            return to_json({"message": await client.mkdir(path, mode)})

    @server.tool()
    async def pfs_rm(path: str, recursive: bool = False) -> str:
        """Remove a file or an empty directory; recursive=true removes a whole tree."""
        with tool_errors():
            return to_json({"message": await client.rm(path, recursive)})

    @server.tool()
    async def pfs_stat(path: str) -> str:
        """Information about one file or directory as JSON."""
        with tool_errors():
            return to_json((await client.stat(path)).to_json())

    @server.tool()
    async def pfs_mv(old_path: str, new_path: str) -> str:
        """Rename or move within one mount."""
        with tool_errors():
            return to_json({"message": await client.mv(old_path, new_path)})

    @server.tool()
    async def pfs_grep(
        path: str, pattern: str, recursive: bool = False, case_insensitive: bool = False
    ) -> str:
        """Search files for a regular expression (RE2); JSON {"matches": [...], "count": n}."""
        with tool_errors():
            return to_json(await client.grep(path, pattern, recursive, case_insensitive))

    @server.tool()
    async def pfs_watch(
        path: str,
        recursive: bool = False,
        seconds: Annotated[float, Field(gt=0, le=WATCH_SECONDS)] = 10,
        max_events: Annotated[int, Field(ge=1, le=WATCH_EVENTS)] = 100,
    ) -> str:
        """Watch path for changes: the events (type, path, newPath, stat) that happen within
        `seconds`, as a JSON list, returned early once `max_events` came. type "overflow" means
        events were lost."""
        events: list[dict[str, Any]] = []
        with tool_errors(), contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                stream = client.watch(path, recursive)
                try:
                    async for event in stream:
                        if event["type"] != "ready":
                            events.append(event)
                            if len(events) >= max_events:
                                break
                finally:
                    await stream.aclose()
        return to_json(events)

    @server.tool()
    async def pfs_mounts() -> str:
        """The mounted plugins: path, plugin name and config of each."""
        with tool_errors():
            return to_json(await client.mounts())

    @server.tool()
    async def pfs_mount(fstype: str, path: str, config: dict[str, Any] | None = None) -> str:
        """Mount a plugin instance (fstype, e.g. memfs or queuefs) at path with its config."""
        with tool_errors():
            return to_json({"message": await client.mount(fstype, path, config or {})})

    @server.tool()
    async def pfs_unmount(path: str) -> str:
        """Unmount the plugin at path."""
        with tool_errors():
            return to_json({"message": await client.unmount(path)})

    @server.tool()
    async def pfs_health() -> str:
        """Server status and version."""
        with tool_errors():
            return to_json(await client.health())

    @server.tool()
    async def pfs_cp(src: str, dst: str, recursive: bool = False, stream: bool = False) -> str:
        """Copy a file (or a tree with recursive=true) within PFS."""
        with tool_errors():
            copied = await client.copy(src, dst, recursive=recursive)
            return f"Successfully copied {src} to {dst} ({copied} bytes)"

    @server.tool()
    async def pfs_upload(
        local_path: str, remote_path: str, recursive: bool = False, stream: bool = False
    ) -> str:
        """Upload a local file (or directory with recursive=true) to PFS."""
        with tool_errors():
            sent = await client.upload(local_path, remote_path, recursive=recursive)
            return f"Successfully uploaded {local_path} to {remote_path} ({sent} bytes)"

    @server.tool()
    async def pfs_download(
        remote_path: str, local_path: str, recursive: bool = False, stream: bool = False
    ) -> str:
        """Download a PFS file (or directory with recursive=true) to the local disk."""
        with tool_errors():
            got = await client.download(remote_path, local_path, recursive=recursive)
            return f"Successfully downloaded {remote_path} to {local_path} ({got} bytes)"

    @server.tool()
    async def pfs_enqueue(queue: str, data: str) -> str:
        """Add a message to a queue (its directory, e.g. /queuefs/jobs); returns the message id."""
        with tool_errors():
            return await client.write(queue.rstrip("/") + "/enqueue", data.encode("utf-8"))

    @server.tool()
    async def pfs_dequeue(
        queue: str, wait: Annotated[float, Field(ge=0, le=MAX_DEQUEUE_WAIT)] = 0
    ) -> str:
        """Take the oldest message of a queue: JSON {"id","data","timestamp"}, or {} when empty;
        with wait, wait up to that many seconds for one to come."""
        with tool_errors():
            if wait:
                message = await client.dequeue(queue, wait)
                return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
            return as_text(await client.cat(queue.rstrip("/") + "/dequeue"))

    @server.tool()
    async def pfs_peek(queue: str) -> str:
        """Look at the oldest message of a queue without taking it ({} when empty)."""
        with tool_errors():
            return as_text(await client.cat(queue.rstrip("/") + "/peek"))

    async def pfs_notify(**arguments: Any) -> str:
        """Send a message from one agent's queue to another's (queues are created when missing)."""
        to, sender, data = arguments["to"], arguments["from"], arguments["data"]
        root = arguments.get("queuefs_root", "/queuefs").rstrip("/")
        with tool_errors():
            for name in (sender, to):
                await client.mkdir(f"{root}/{name}", parents=True)
            message = {"from": sender, "to": to, "message": data, "timestamp": time.time()}
            message_id = await client.write(f"{root}/{to}/enqueue", json.dumps(message).encode())
            return f"Notification sent from {sender} to {to} (id {message_id})"

    # The original's argument is called `from`, a Python keyword: it can only be an alias, and
    # the SDK passes aliased arguments by their alias, hence **arguments behind this signature.
    pfs_notify.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("to", inspect.Parameter.KEYWORD_ONLY, annotation=str),
            inspect.Parameter(
                "sender",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, Field(alias="from")],
            ),
            inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, annotation=str),
            inspect.Parameter(
                "queuefs_root", inspect.Parameter.KEYWORD_ONLY, default="/queuefs", annotation=str
            ),
        ],
        return_annotation=str,
    )
    server.add_tool(pfs_notify)

    return server
