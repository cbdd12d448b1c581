"""`pfs mcp` driven by the mcp SDK's own stdio client: every tool, and errors as tool errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from pfs.testing.fixtures import server_fixture

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queuefs"},
    }
}

ORIGINAL_TOOLS = {
    "pfs_ls", "pfs_cat", "pfs_write", "pfs_mkdir", "pfs_rm", "pfs_stat", "pfs_mv", "pfs_grep",
    "pfs_mounts", "pfs_mount", "pfs_unmount", "pfs_health", "pfs_cp", "pfs_upload",
    "pfs_download", "pfs_notify",
}  # fmt: skip


pfs_server = server_fixture(CONFIG)


def text(result) -> str:
    assert len(result.content) == 1
    return result.content[0].text


@contextlib.asynccontextmanager
async def mcp_session(pfs_server, tmp_path: Path) -> AsyncIterator[ClientSession]:
    """`pfs mcp` started as a subprocess, driven by the SDK's client; no traceback logged."""
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "pfs"),
        args=["mcp"],
        # PFS_SERVER_URL is the original pfs-mcp's variable; PYTHONPATH, when set, makes the
        # subprocess import the sources under test (a worktree), not the installed ones.
        env={"PFS_SERVER_URL": pfs_server.url}
        | {k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    )
    with open(tmp_path / "mcp.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session
    assert "Traceback" not in (tmp_path / "mcp.log").read_text()


async def test_every_tool_through_the_sdk_client(pfs_server, tmp_path):
    """Start `pfs mcp`, list the tools, call each one, and see the results on the server."""
    async with mcp_session(pfs_server, tmp_path) as session:
        await check_tools(session, tmp_path)


async def test_watch_tool_reports_changes(pfs_server, tmp_path):
    """pfs_watch returns the changes made while it watched (the write repeats until the watch,
    which starts at some point after the call, has seen one)."""
    from pfs.client import AsyncClient

    async with mcp_session(pfs_server, tmp_path) as session, AsyncClient(pfs_server.url) as pfs:
        await pfs.mkdir("/memfs/watched", parents=True)
        watching = asyncio.ensure_future(
            session.call_tool("pfs_watch", {"path": "/memfs/watched", "max_events": 1,
                                            "seconds": 60})  # fmt: skip
        )
        while not watching.done():
            await pfs.write("/memfs/watched/a.txt", "hello")
            await asyncio.sleep(0.2)
        result = watching.result()
        assert not result.is_error, result.content
        [event] = json.loads(text(result))
        assert event["type"] == "write" and event["path"] == "/memfs/watched/a.txt"
        assert event["stat"]["size"] == 5
        quiet = await session.call_tool("pfs_watch", {"path": "/memfs/watched", "seconds": 0.5})
        assert json.loads(text(quiet)) == []
        waiting = asyncio.ensure_future(
            session.call_tool("pfs_dequeue", {"queue": "/queuefs/mcpwait", "wait": 30})
        )
        await pfs.write("/queuefs/mcpwait/enqueue", "came later")
        taken = await waiting
        assert json.loads(text(taken))["data"] == "came later"


async def test_tree_tools_never_take_a_message(pfs_server, tmp_path):
    """pfs_cp, pfs_download and pfs_grep over a queue's directory leave its messages alone."""
    async with mcp_session(pfs_server, tmp_path) as session:

        async def call(name: str, **arguments) -> str:
            result = await session.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            return text(result)

        for message in ("first", "second"):
            await call("pfs_enqueue", queue="/queuefs/walked", data=message)
        await call("pfs_cp", src="/queuefs/walked", dst="/memfs/walked", recursive=True)
        copied = {e["name"] for e in json.loads(await call("pfs_ls", path="/memfs/walked"))}
        assert copied == {"peek", "size", "visibility_timeout"}
        await call("pfs_download", remote_path="/queuefs/walked",
                   local_path=str(tmp_path / "walked"), recursive=True)  # fmt: skip
        assert {p.name for p in (tmp_path / "walked").iterdir()} == copied
        grep = json.loads(await call("pfs_grep", path="/queuefs/walked", pattern="first",
                                     recursive=True))  # fmt: skip
        assert [m["file"] for m in grep["matches"]] == ["/queuefs/walked/peek"]
        assert await call("pfs_cat", path="/queuefs/walked/size") == "2"


async def check_tools(session: ClientSession, tmp_path: Path) -> None:
    async def call(name: str, **arguments) -> str:
        result = await session.call_tool(name, arguments)
        assert not result.is_error, (name, result.content)
        return text(result)

    names = {tool.name for tool in (await session.list_tools()).tools}
    assert ORIGINAL_TOOLS | {"pfs_enqueue", "pfs_dequeue", "pfs_peek"} <= names
    prompts = {prompt.name for prompt in (await session.list_prompts()).prompts}
    assert "pfs_introduction" in prompts

    assert json.loads(await call("pfs_health"))["status"] == "healthy"
    assert {m["path"] for m in json.loads(await call("pfs_mounts"))} >= {"/memfs", "/queuefs"}
    assert "created" in await call("pfs_mkdir", path="/memfs/docs")
    assert await call("pfs_write", path="/memfs/docs/a.txt", content="hello agent\n") is not None
    assert await call("pfs_cat", path="/memfs/docs/a.txt") == "hello agent\n"
    assert await call("pfs_cat", path="/memfs/docs/a.txt", offset=6, size=5) == "agent"
    listing = json.loads(await call("pfs_ls", path="/memfs/docs"))
    assert [(e["name"], e["size"]) for e in listing] == [("a.txt", 12)]
    assert json.loads(await call("pfs_stat", path="/memfs/docs/a.txt"))["size"] == 12
    grep = json.loads(await call("pfs_grep", path="/memfs/docs", pattern="AGENT",
                                 recursive=True, case_insensitive=True))  # fmt: skip
    assert grep["count"] == 1 and grep["matches"][0]["line"] == 1
    await call("pfs_mv", old_path="/memfs/docs/a.txt", new_path="/memfs/docs/b.txt")
    assert "Successfully copied" in await call("pfs_cp", src="/memfs/docs/b.txt",
                                               dst="/memfs/copy/c.txt")  # fmt: skip
    assert await call("pfs_cat", path="/memfs/copy/c.txt") == "hello agent\n"

    local = tmp_path / "up.txt"
    local.write_bytes(b"\xff\xfebinary")
    await call("pfs_upload", local_path=str(local), remote_path="/memfs/up.bin")
    assert await call("pfs_cat", path="/memfs/up.bin") == (
        "[Binary content, base64 encoded]\n//5iaW5hcnk="
    )
    await call("pfs_download", remote_path="/memfs/docs/b.txt", local_path=str(tmp_path / "d"))
    assert (tmp_path / "d").read_text() == "hello agent\n"
    await call("pfs_rm", path="/memfs/copy", recursive=True)
    assert "copy" not in await call("pfs_ls", path="/memfs")

    await call("pfs_mount", fstype="memfs", path="/scratch", config={})
    assert "/scratch" in await call("pfs_mounts")
    await call("pfs_unmount", path="/scratch")
    assert "/scratch" not in await call("pfs_mounts")

    message_id = await call("pfs_enqueue", queue="/queuefs/jobs", data="job-1")
    await call("pfs_enqueue", queue="/queuefs/jobs", data="job-2")
    assert json.loads(await call("pfs_peek", queue="/queuefs/jobs"))["id"] == message_id
    taken = json.loads(await call("pfs_dequeue", queue="/queuefs/jobs"))
    assert (taken["id"], taken["data"]) == (message_id, "job-1")
    assert await call("pfs_cat", path="/queuefs/jobs/size") == "1"
    assert "Notification sent" in await call(
        "pfs_notify", to="bob", **{"from": "alice"}, data="ping"
    )
    note = json.loads(json.loads(await call("pfs_dequeue", queue="/queuefs/bob"))["data"])
    assert (note["from"], note["to"], note["message"]) == ("alice", "bob", "ping")
    assert await call("pfs_dequeue", queue="/queuefs/bob") == "{}"

    # Errors come back as tool errors carrying the server's message; nothing changes.
    missing = await session.call_tool("pfs_cat", {"path": "/memfs/nope.txt"})
    assert missing.is_error
    assert text(missing).endswith(": no such file or directory: /memfs/nope.txt")
    bad_regex = await session.call_tool("pfs_grep", {"path": "/memfs", "pattern": "("})
    assert bad_regex.is_error and "invalid regex pattern" in text(bad_regex)
    exists = await session.call_tool("pfs_mkdir", {"path": "/memfs/docs"})
    assert exists.is_error
    assert json.loads(await call("pfs_ls", path="/memfs/docs"))[0]["name"] == "b.txt"
