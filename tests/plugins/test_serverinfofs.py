"""serverinfofs ``/traffic``: the file bytes the server sent and received, counted exactly
where bodies pass (plain and streamed reads and writes, the /write alias, handles)."""

from __future__ import annotations

import json
import time

import httpx

from pfs.testing.fixtures import server_fixture

server = server_fixture({"plugins": {
    "serverinfofs": {"enabled": True, "path": "/info"},
    "memfs": {"enabled": True, "path": "/memfs"},
}})


def traffic(api: httpx.Client) -> tuple[dict, int]:
    """The /traffic report and the length of its own body (which the next report counts)."""
    body = api.get("/files", params={"path": "/info/traffic"}).content
    return json.loads(body), len(body)


def test_traffic_counts_file_bodies_only(api):
    before, own = traffic(api)
    assert set(before) == {"downstream_bps", "upstream_bps", "peak_downstream_bps",
                           "peak_upstream_bps", "total_download_bytes", "total_upload_bytes",
                           "uptime_seconds"}
    small, big = b"s" * 1000, b"b" * (3 << 20)  # inline and streamed both ways
    api.put("/files", params={"path": "/memfs/small"}, content=small)
    api.put("/files", params={"path": "/memfs/big"}, content=iter([big[:1 << 20], big[1 << 20:]]))
    api.post("/write", params={"path": "/memfs/alias"}, json={"data": "twelve bytes"})
    assert api.get("/files", params={"path": "/memfs/small"}).content == small
    assert api.get("/files", params={"path": "/memfs/big"}).content == big
    assert api.get("/files", params={"path": "/memfs/small", "size": 10}).content == small[:10]
    # JSON answers and requests do not count; neither do failed reads.
    api.get("/directories", params={"path": "/memfs"})
    api.get("/stat", params={"path": "/memfs/big"})
    assert api.get("/files", params={"path": "/memfs/missing"}).status_code == 404
    after, _ = traffic(api)
    assert after["total_upload_bytes"] - before["total_upload_bytes"] == len(small) + len(big) + 12
    assert after["total_download_bytes"] - before["total_download_bytes"] == (
        own + len(small) + len(big) + 10)


def test_ranges_and_live_streams_count_what_they_send(api):
    api.put("/files", params={"path": "/memfs/ranged"}, content=b"0123456789")
    before, own = traffic(api)
    r = api.get("/files", params={"path": "/memfs/ranged"}, headers={"Range": "bytes=2-5"})
    assert (r.status_code, r.content) == (206, b"2345")
    r = api.get("/files", params={"path": "/memfs/ranged"}, headers={"Range": "bytes=50-60"})
    assert r.status_code == 416  # an error body: not file content
    assert api.get("/files", params={"path": "/memfs/ranged", "stream": "true"}).content \
        == b"0123456789"
    after, _ = traffic(api)
    assert after["total_download_bytes"] - before["total_download_bytes"] == own + 4 + 10


def test_handle_reads_and_writes_count(api):
    before, own = traffic(api)
    opened = api.post("/handles/open", params={"path": "/memfs/h", "flags": 2 | 16})
    assert opened.status_code == 200, opened.text
    handle = opened.json()["handle_id"]
    assert api.put(f"/handles/{handle}/write", content=b"0123456789").status_code == 200
    assert api.get(f"/handles/{handle}/read", params={"size": 4, "offset": 0}).content == b"0123"
    api.delete(f"/handles/{handle}")
    after, _ = traffic(api)
    assert after["total_upload_bytes"] - before["total_upload_bytes"] == 10
    assert after["total_download_bytes"] - before["total_download_bytes"] == own + 4


def test_rates_and_peaks_follow_the_flow(api):
    api.put("/files", params={"path": "/memfs/rate"}, content=b"r" * (2 << 20))
    for _ in range(100):  # the sampler runs once a second
        report, _ = traffic(api)
        if report["peak_upstream_bps"] > 0:
            break
        time.sleep(0.1)
    assert report["peak_upstream_bps"] > 0 and report["peak_downstream_bps"] >= 0
    assert report["uptime_seconds"] >= 0
    listed = [f["name"] for f in api.get("/directories", params={"path": "/info"}).json()["files"]]
    assert listed == ["README", "server_info", "uptime", "version", "stats", "traffic"]


def test_run_time_mount_sees_the_same_counters(api):
    assert api.post("/mount", json={"fstype": "serverinfofs", "path": "/info2"}).status_code == 200
    try:
        first = json.loads(api.get("/files", params={"path": "/info/traffic"}).content)
        second = json.loads(api.get("/files", params={"path": "/info2/traffic"}).content)
        assert second["total_download_bytes"] >= first["total_download_bytes"] > 0
    finally:
        api.post("/unmount", json={"path": "/info2"})


async def test_without_a_server_there_is_no_monitor():
    from pfs.fs import validate_config
    from pfs.plugins.serverinfofs import ServerInfoFS

    fs = ServerInfoFS(validate_config("serverinfofs", ServerInfoFS.config_schema, {}))
    await fs.start()
    try:
        assert await fs.read("/traffic") == b"Traffic monitoring not available\n"
    finally:
        await fs.shutdown()


