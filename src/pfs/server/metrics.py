"""Prometheus metrics of one server (``GET /metrics``), with ``prometheus_client``.

Per request the app adds one count and one latency observation, labelled by the route template
(``/api/v1/handles/{id}/read``, never the raw path), the method and the status: label sets are
bounded by the route table. They are plain integers too (:class:`RequestCounts`), turned into
prometheus_client's families when scraped: its own Counter and Histogram cost 1.5 µs a request
(a lock per value), a sixth of what the app itself spends on a 1 KiB read. Everything else
is read when scraped from plain integers the server keeps anyway or counts where things happen:
file bytes in/out (:class:`pfs.fs.traffic.Traffic`), plugin calls by mount and operation,
in-flight calls and open streams by mount, open handles, and the depths of queuefs queues where
the backend knows them without I/O (the memory backend).

A scrape renders on a worker thread (its cost grows with the number of mounts and queues), so it
never holds the event loop. One registry per app (not the library's global one), in the
library's single-process mode: the server runs one worker.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator
from operator import itemgetter

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from pfs.fs.mounts import MountTable
from pfs.server.mounting import Mounting, MountStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The route label of requests no route answers (404s of unknown paths).
UNMATCHED = "unmatched"
#: Methods counted by name (HTTP's and WebDAV's); any other is counted as ``other`` (clients
#: choose methods freely).
METHODS = frozenset({
    "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
})
#: Latency buckets in seconds: small reads take ~100 µs, streams and slow backends seconds.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0, 10.0, 30.0)
#: The buckets' ``le`` labels, as prometheus_client writes them.
BOUNDS = [*map(floatToGoString, BUCKETS), "+Inf"]
#: Queues shown per mount at most, the deepest (queue names are the clients'; the total is
#: always shown).
MAX_QUEUES_SHOWN = 1000


class Metrics:
    """The server's metrics: ``observe`` per request, ``render`` per scrape."""

    def __init__(self, fs: MountTable, mounting: Mounting) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = RequestCounts()
        self.observe = self.requests.observe
        self.registry.register(self.requests)
        self.registry.register(NamespaceCollector(fs))
        self.registry.register(StartupCollector(mounting))
        ProcessCollector(namespace="pfs", registry=self.registry)

    def render(self) -> bytes:
        """The text format. Safe off the event loop: the counters it reads are ints and lists
        and dicts copied in one step."""
        return generate_latest(self.registry)


class RequestCounts(Collector):
    """Requests by route, method and status, and their latencies by route and method, kept as
    plain integers on the event loop and read by a scrape on another thread."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], list[int]] = {}
        #: (route, method) → the count in each bucket (not cumulative; the last one is +Inf)
        #: and the sum of the seconds observed.
        self._latencies: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = "other"  # clients choose methods freely: the label set stays bounded
        count = self._counts.get((route, method, status))
        if count is None:
            count = self._counts[route, method, status] = [0]
            self._latencies.setdefault((route, method), ([0] * (len(BUCKETS) + 1), [0.0]))
        count[0] += 1
        buckets, total = self._latencies[route, method]
        buckets[bisect_left(BUCKETS, seconds)] += 1
        total[0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "pfs_http_requests", "HTTP requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self._counts.items()):
            requests.add_metric([route, method, str(status) if status else "none"], count[0])
        latency = HistogramMetricFamily(
            "pfs_http_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by route and method",
            labels=["route", "method"],
        )
        for (route, method), (buckets, seconds) in list(self._latencies.items()):
            counts, running, cumulative = list(buckets), 0, []
            for bound, count in zip(BOUNDS, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([route, method], cumulative, seconds[0])
        yield requests
        yield latency


class NamespaceCollector(Collector):
    """What the mount table knows, read when scraped."""

    def __init__(self, fs: MountTable) -> None:
        self.fs = fs

    def collect(self) -> Iterator[Metric]:
        fs = self.fs
        sent = CounterMetricFamily("pfs_file_bytes_sent", "File content sent to clients")
        sent.add_metric([], fs.traffic.sent)
        received = CounterMetricFamily("pfs_file_bytes_received", "File content received")
        received.add_metric([], fs.traffic.received)
        handles = GaugeMetricFamily("pfs_open_handles", "Handles open (/api/v1/handles)")
        handles.add_metric([], len(fs.handles))
        ops = CounterMetricFamily(
            "pfs_mount_operations", "Plugin calls through the mount table, by mount and operation",
            labels=["mount", "fstype", "op"],
        )
        in_flight = GaugeMetricFamily(
            "pfs_mount_in_flight", "Plugin calls running now (open streams included)",
            labels=["mount"],
        )
        streams = GaugeMetricFamily(
            "pfs_mount_open_streams", "Read streams open now", labels=["mount"]
        )
        depths = GaugeMetricFamily(
            "pfs_queue_depth", "Messages ready in a queue (queuefs, memory backend)",
            labels=["mount", "queue"],
        )
        queued = GaugeMetricFamily(
            "pfs_queue_depth_total", "Messages ready in every queue of a queuefs mount",
            labels=["mount"],
        )
        for mount in fs.list():
            for op, count in list(mount.ops.items()):
                ops.add_metric([mount.path, mount.fstype, op], count)
            in_flight.add_metric([mount.path], mount.active)
            streams.add_metric([mount.path], mount.streams)
            queues = mount.fs.queue_depths()
            if queues is not None:
                queued.add_metric([mount.path], sum(queues.values()))
                shown = heapq.nlargest(MAX_QUEUES_SHOWN, queues.items(), key=itemgetter(1))
                for name, depth in shown:
                    depths.add_metric([mount.path, name], depth)
        yield from (sent, received, handles, ops, in_flight, streams, depths, queued)


class StartupCollector(Collector):
    """The start-up mounts by state (what ``/health`` and ``/ready`` tell): a failed one is the
    server's ``degraded``."""

    def __init__(self, mounting: Mounting) -> None:
        self.mounting = mounting

    def collect(self) -> Iterator[Metric]:
        counts = dict.fromkeys(MountStatus, 0)
        for tracked in list(self.mounting.tracked.values()):  # one step: read off the loop
            counts[tracked.status] += 1
        mounts = GaugeMetricFamily(
            "pfs_startup_mounts", "Start-up mounts (/dev and the configured ones) by state",
            labels=["state"],
        )
        for status, count in counts.items():
            mounts.add_metric([status.value], count)
        yield mounts
