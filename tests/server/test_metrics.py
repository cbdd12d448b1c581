"""``GET /metrics`` on a real server: requests by route template, latency histograms, file bytes,
per-mount operations, open streams and handles, queue depths; the read role under auth; off by
config."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pfs.server.metrics as metrics_module
from pfs.server.cli import build_app
from pfs.testing.server import ServerProcess

CONFIG = {
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "queuefs": {"enabled": True, "path": "/queue", "config": {"backend": "memory"}},
        "streamfs": {"enabled": True, "path": "/streamfs"},
    }
}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def scrape(server: ServerProcess, **kwargs) -> dict:
    response = httpx.get(server.url + "/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


@pytest.fixture(scope="module")
def server():
    with ServerProcess(CONFIG) as proc:
        yield proc


def test_requests_by_route_template_method_and_status(server):
    before = scrape(server)
    api = server.api
    httpx.put(api + "/files?path=/memfs/m1", content=b"hello")
    for _ in range(3):
        httpx.get(api + "/files?path=/memfs/m1")
    httpx.get(api + "/files?path=/memfs/absent")
    httpx.get(api + "/handles/12345/read")  # a templated route: the id is no label
    httpx.get(server.url + "/no/such/route/x1")
    httpx.request("BREW", api + "/files?path=/memfs/m1")
    httpx.request("PROPFIND", server.url + "/webdav/memfs/m1", headers={"Depth": "0"})
    after = scrape(server)

    def grew(route: str, method: str, status: str) -> float:
        labels = {"route": route, "method": method, "status": status}
        return value(after, "pfs_http_requests_total", **labels) - value(
            before, "pfs_http_requests_total", **labels
        )

    assert grew("/api/v1/files", "PUT", "200") == 1
    assert grew("/api/v1/files", "GET", "200") == 3
    assert grew("/api/v1/files", "GET", "404") == 1
    assert grew("/api/v1/handles/{id}/read", "GET", "404") == 1
    assert grew("unmatched", "GET", "404") == 1
    assert grew("/api/v1/files", "other", "405") == 1
    assert grew("/webdav/*", "PROPFIND", "207") == 1
    routes = {dict(labels).get("route") for name, labels in after if name.startswith("pfs_http")}
    assert not any("12345" in r or "x1" in r for r in routes if r), routes
    count = value(after, "pfs_http_request_duration_seconds_count",
                  route="/api/v1/files", method="GET")
    inf = value(after, "pfs_http_request_duration_seconds_bucket",
                route="/api/v1/files", method="GET", le="+Inf")
    assert count >= 4 and inf == count
    assert value(after, "pfs_http_request_duration_seconds_sum",
                 route="/api/v1/files", method="GET") > 0


def test_file_bytes_and_mount_operations(server):
    before = scrape(server)
    httpx.put(server.api + "/files?path=/memfs/bytes", content=b"x" * 1000)
    httpx.get(server.api + "/files?path=/memfs/bytes")
    httpx.get(server.api + "/stat?path=/memfs/bytes")
    after = scrape(server)
    assert value(after, "pfs_file_bytes_received_total") - value(
        before, "pfs_file_bytes_received_total") == 1000
    assert value(after, "pfs_file_bytes_sent_total") - value(
        before, "pfs_file_bytes_sent_total") == 1000

    def ops(scraped: dict, op: str) -> float:
        return value(scraped, "pfs_mount_operations_total", mount="/memfs", fstype="memfs", op=op)

    assert ops(after, "stat") - ops(before, "stat") >= 1
    assert ops(after, "read") + ops(after, "read_stream") - ops(before, "read") - ops(
        before, "read_stream") == 1
    assert value(after, "pfs_mount_in_flight", mount="/memfs") == 0


def test_open_handles_and_streams(server):
    httpx.put(server.api + "/files?path=/memfs/h", content=b"abc")
    opened = httpx.post(server.api + "/handles/open", params={"path": "/memfs/h", "flags": "0"})
    assert opened.status_code == 200, opened.text
    handle = opened.json()["handle_id"]
    scraped = scrape(server)
    assert value(scraped, "pfs_open_handles") == 1
    httpx.delete(f"{server.api}/handles/{handle}")
    assert value(scrape(server), "pfs_open_handles") == 0

    with httpx.stream("GET", server.api + "/files",
                      params={"path": "/streamfs/live", "stream": "true"}, timeout=30) as live:
        assert live.status_code == 200
        pieces = live.iter_raw()  # kept: a dropped iterator closes the response
        httpx.put(server.api + "/files?path=/streamfs/live", content=b"piece")
        assert next(pieces) == b"piece"
        scraped = scrape(server)
        assert value(scraped, "pfs_mount_open_streams", mount="/streamfs") == 1
        assert value(scraped, "pfs_mount_in_flight", mount="/streamfs") == 1
    # The server learns that the reader left when it next looks at its connection.
    deadline = time.monotonic() + 10
    while value(scrape(server), "pfs_mount_open_streams", mount="/streamfs") != 0:
        assert time.monotonic() < deadline, "the stream stayed open after its reader left"
        time.sleep(0.05)


def test_queue_depths(server):
    for _ in range(3):
        httpx.put(server.api + "/files?path=/queue/jobs/enqueue", content=b"job")
    httpx.put(server.api + "/files?path=/queue/other/enqueue", content=b"job")
    scraped = scrape(server)
    assert value(scraped, "pfs_queue_depth", mount="/queue", queue="jobs") == 3
    assert value(scraped, "pfs_queue_depth", mount="/queue", queue="other") == 1
    assert value(scraped, "pfs_queue_depth_total", mount="/queue") == 4
    httpx.get(server.api + "/files?path=/queue/jobs/dequeue")
    assert value(scrape(server), "pfs_queue_depth", mount="/queue", queue="jobs") == 2


async def test_only_the_deepest_queues_are_shown_and_the_total_counts_all(monkeypatch):
    """In-process, with the limit made small: the deepest queues of a mount are shown."""
    monkeypatch.setattr(metrics_module, "MAX_QUEUES_SHOWN", 2)
    app = build_app({"plugins": {"queuefs": CONFIG["plugins"]["queuefs"]}})
    await app.state.mounting.start()  # app.startup() would also take over SIGINT/SIGTERM
    try:
        while app.state.mounting.counts()["pending"]:
            await asyncio.sleep(0.01)
        for queue, depth in (("a", 1), ("b", 4), ("c", 2), ("d", 3)):
            for _ in range(depth):
                await app.state.fs.write(f"/queue/{queue}/enqueue", b"m")
        assert app.state.metrics is not None
        scraped = samples(app.state.metrics.render().decode())
    finally:
        await app.state.mounting.stop()
    shown = {dict(labels)["queue"]: depth for (name, labels), depth in scraped.items()
             if name == "pfs_queue_depth"}
    assert shown == {"b": 4, "d": 3}
    assert value(scraped, "pfs_queue_depth_total", mount="/queue") == 10


def test_process_metrics_are_there(server):
    assert value(scrape(server), "pfs_process_resident_memory_bytes") > 0


def test_start_up_mounts_by_state(start_server):
    healthy = start_server({"plugins": CONFIG["plugins"]})
    scraped = scrape(healthy)
    counted = httpx.get(healthy.api + "/health").json()["mounts"]  # what /health counts
    assert counted["mounted"] >= 3
    assert value(scraped, "pfs_startup_mounts", state="mounted") == counted["mounted"]
    assert value(scraped, "pfs_startup_mounts", state="failed") == 0
    missing_dir = {"enabled": True, "path": "/local", "config": {"local_dir": "/nonexistent/d"}}
    degraded = start_server({"plugins": {"localfs": missing_dir}}, wait=False)
    degraded.wait_up(settled=True)
    scraped = scrape(degraded)
    assert value(scraped, "pfs_startup_mounts", state="failed") == 1
    assert value(scraped, "pfs_startup_mounts", state="pending") == 0


def test_metrics_need_the_read_role_under_auth(start_server):
    server = start_server({
        "server": {"auth": {"tokens": [{"token": "reader", "role": "read"}]}},
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    })
    assert httpx.get(server.url + "/metrics").status_code == 401
    assert httpx.get(server.url + "/metrics",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = scrape(server, headers={"Authorization": "Bearer reader"})
    assert value(scraped, "pfs_http_requests_total", route="/metrics", method="GET",
                 status="401") == 2


def test_metrics_can_be_switched_off(start_server):
    server = start_server({"server": {"metrics": False},
                           "plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 404
    assert response.json() == {"error": "metrics are off (server.metrics: false)"}
    assert httpx.get(server.api + "/files?path=/memfs").status_code in (200, 400)


def test_a_wrong_metrics_setting_stops_the_server():
    with pytest.raises(RuntimeError, match="pfs-server exited 2") as failed:
        ServerProcess({"server": {"metrics": "yes"}})
    assert "server.metrics: must be true or false" in str(failed.value)


def test_only_get(server):
    response = httpx.post(server.url + "/metrics")
    assert response.status_code == 405


def test_request_counts_are_cumulative_buckets_and_a_bounded_label_set():
    counts = metrics_module.RequestCounts()
    for seconds in (0.00005, 0.0001, 0.0003, 40.0):  # the first two in the first bucket (le)
        counts.observe("/api/v1/files", "GET", 200, seconds)
    for method in ("BREW", "X-ANYTHING", "brew"):  # any number of odd methods: one series
        counts.observe("/api/v1/files", method, 405, 0.001)
    requests, latency = counts.collect()
    totals = {tuple(s.labels.values()): s.value for s in requests.samples}
    assert totals == {("/api/v1/files", "GET", "200"): 4, ("/api/v1/files", "other", "405"): 3}
    buckets = {s.labels["le"]: s.value for s in latency.samples
               if s.name.endswith("_bucket") and s.labels["method"] == "GET"}
    assert len(buckets) == len(metrics_module.BUCKETS) + 1
    assert (buckets["0.0001"], buckets["0.0005"], buckets["30.0"], buckets["+Inf"]) == (2, 3, 3, 4)
