"""Process life: default config, uvicorn, clean shutdown with requests in flight."""

from __future__ import annotations

import signal
import threading

import httpx

from pfs.testing.server import ServerProcess, free_port


def test_default_config_mounts():
    with ServerProcess(None) as srv:
        mounts = {m["path"] for m in httpx.get(srv.api + "/mounts").json()["mounts"]}
        assert {"/serverinfofs", "/memfs", "/kvfs", "/hellofs"} <= mounts
        listed = httpx.get(srv.api + "/directories", params={"path": "/memfs"}).json()["files"]
        assert {"README", "tmp"} <= {f["name"] for f in listed}


def test_same_app_under_uvicorn(start_server):
    srv = start_server({"plugins": {"memfs": {"enabled": True, "path": "/m"}}},
                       extra_args=["--server", "uvicorn"])
    api = srv.client()
    assert api.put("/files", params={"path": "/m/a"}, content=b"uv").status_code == 200
    assert api.get("/files", params={"path": "/m/a"}).content == b"uv"
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is -SIGTERM
    assert srv.stop() in (0, -signal.SIGTERM)
    assert "unmounted /m" in srv.log()


def test_sigterm_finishes_in_flight_request_and_shuts_plugins_down(start_server):
    srv = start_server({"plugins": {"memfs": {"enabled": True, "path": "/m"}}})
    data = b"q" * (64 << 20)
    httpx.put(srv.api + "/files", params={"path": "/m/big"}, content=data, timeout=60)
    received = bytearray()
    with httpx.stream("GET", srv.api + "/files", params={"path": "/m/big"}, timeout=60) as resp:
        it = resp.iter_bytes()
        received += next(it)
        stopper = threading.Thread(target=srv.stop, args=(signal.SIGTERM,))
        stopper.start()
        for chunk in it:
            received += chunk
        stopper.join()
    assert bytes(received) == data
    assert srv.proc.returncode == 0
    assert "unmounted /m" in srv.log()


def test_warns_loudly_on_non_loopback_without_auth():
    port = free_port()
    proc = ServerProcess(None, port=port, extra_args=["-addr", f":{port}"])
    try:
        assert "without auth" in proc.log()
    finally:
        proc.close()
    quiet = ServerProcess(None)
    try:
        assert "without auth" not in quiet.log()
    finally:
        quiet.close()


def test_sigterm_ends_live_stream_readers(start_server):
    srv = start_server({"plugins": {"streamfs": {"enabled": True, "path": "/s"}}})
    httpx.put(srv.api + "/files", params={"path": "/s/live"}, content=b"hello")
    with httpx.stream("GET", srv.api + "/files", params={"path": "/s/live", "stream": "true"},
                      timeout=60) as resp:
        it = resp.iter_bytes()
        assert next(it) == b"hello"
        stopper = threading.Thread(target=srv.stop, args=(signal.SIGTERM, 30.0))
        stopper.start()
        rest = b"".join(it)  # ends when the server ends the stream
        stopper.join()
    assert rest == b""
    assert srv.proc.returncode == 0, srv.log()
    assert "unmounted /s" in srv.log()
