"""The server's logs through a real server: one access line per request, off-switchable, JSON
lines on request (ours and Granian's), 4xx reasons at debug, bad settings refused."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from pfs.testing.server import ServerProcess

MEMFS = {"memfs": {"enabled": True, "path": "/memfs"}}


def wait_for(server: ServerProcess, text: str) -> str:
    deadline = time.monotonic() + 10
    while text not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    return server.log()


def test_one_access_line_per_request(start_server):
    server = start_server({"plugins": MEMFS})
    httpx.put(server.api + "/files?path=/memfs/a", content=b"12345")
    httpx.get(server.api + "/files?path=/memfs/a")
    httpx.get(server.api + "/files?path=/memfs/nope")
    log = wait_for(server, "/memfs/nope")
    lines = [line for line in log.splitlines() if " pfs.access: " in line and "/files" in line]
    assert len(lines) == 3, log
    assert lines[0].endswith("ms") and ' "PUT /api/v1/files?path=/memfs/a" 200 ' in lines[0]
    assert ' "GET /api/v1/files?path=/memfs/a" 200 5 ' in lines[1]
    assert ' "GET /api/v1/files?path=/memfs/nope" 404 ' in lines[2]
    assert lines[1].split(" pfs.access: ")[1].startswith("127.0.0.1 ")


def test_the_access_log_can_be_switched_off(start_server):
    server = start_server({"server": {"access_log": False}, "plugins": MEMFS})
    httpx.get(server.api + "/files", params={"path": "/memfs/nope"})
    server.stop()
    assert "pfs.access" not in server.log()
    assert "mounted memfs at /memfs" in server.log()


def test_json_lines_for_ours_and_granians(start_server):
    server = start_server({"server": {"log_format": "json"}, "plugins": MEMFS})
    httpx.get(server.api + "/files?path=/memfs/nope")
    wait_for(server, "/memfs/nope")
    server.stop()
    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    loggers = {e["logger"] for e in entries}
    assert {"pfs.access", "pfs.mounts"} <= loggers
    assert any(name.startswith("_granian") for name in loggers)
    access = next(e for e in entries if e["logger"] == "pfs.access" and "/files" in e["target"])
    assert access["method"] == "GET" and access["status"] == 404
    assert access["target"] == "/api/v1/files?path=/memfs/nope"
    assert access["bytes"] > 0 and access["ms"] >= 0 and access["level"] == "INFO"


def test_a_4xx_reason_is_logged_at_debug(start_server):
    server = start_server({"server": {"log_level": "debug"}, "plugins": MEMFS})
    httpx.get(server.api + "/files", params={"path": "/memfs/nope"})
    log = wait_for(server, "DEBUG pfs.server: GET /api/v1/files: 404")
    assert "no such file or directory" in log.split("DEBUG pfs.server: GET /api/v1/files: 404")[1]


@pytest.mark.parametrize(("server_section", "message"), [
    ({"log_format": "xml"}, "server.log_format: must be one of text, json"),
    ({"access_log": "yes"}, "server.access_log: must be true or false"),
])
def test_bad_log_settings_stop_the_server(start_server, server_section, message):
    with pytest.raises(RuntimeError, match="pfs-server exited 2") as failed:
        ServerProcess({"server": server_section, "plugins": MEMFS})
    assert message in str(failed.value)


async def test_access_lines_are_batched_bounded_and_flushed_at_shutdown():
    """In-process: lines wait for the batch, a slow reader costs counted lines, not memory,
    and the app's shutdown writes what is left."""
    import io

    from pfs.server.logs import AccessLog
    from pfs.testing.inprocess import running_app

    out = io.StringIO()
    async with running_app({"plugins": MEMFS}) as app:
        app.access = logged = AccessLog("json", stream=out)
        logged.MAX_PENDING = 3
        scope = {"type": "http", "method": "DELETE", "path": "/api/v1/files",
                 "query_string": b"path=/memfs/x", "headers": [], "client": ("10.0.0.1", 4)}
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def keep(message):
            sent.append(message)

        for _ in range(5):
            await app(dict(scope), receive, keep)
        assert sent[0]["status"] == 404
        assert out.getvalue() == ""  # not yet: batched
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert (first["client"], first["method"], first["status"]) == ("10.0.0.1", "DELETE", 404)
    assert first["target"] == "/api/v1/files?path=/memfs/x"
    assert first["bytes"] == len(sent[1]["body"])
    assert json.loads(lines[-1])["message"] == "2 access lines dropped (log reader too slow)"


def test_an_invalid_regex_leaves_no_noise_in_the_log(start_server):
    """RE2 would print its parse error (and absl's pre-init warning) on stderr; the client gets
    the reason, the log gets only the access line."""
    server = start_server({"plugins": MEMFS})
    answer = httpx.post(server.api + "/grep", json={"path": "/memfs", "pattern": "("})
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid regex pattern: missing ): ("}
    log = wait_for(server, '"POST /api/v1/grep" 400')
    noise = [line for line in log.splitlines()
             if "absl" in line or "re2" in line.lower() or "Error parsing" in line]
    assert noise == []
