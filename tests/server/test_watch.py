"""GET /api/v1/watch: change events as Server-Sent Events, per subtree, bounded per watcher."""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pfs.client import Client
from pfs.fs.errors import InvalidArgument, Unavailable

CONFIG = {
    "server": {"max_watchers": 4},
    "plugins": {
        "memfs": {"enabled": True, "path": "/memfs"},
        "kvfs": {"enabled": True, "path": "/kvfs"},
    },
}


@pytest.fixture(scope="module")
def server():
    from pfs.testing.server import ServerProcess

    with ServerProcess(CONFIG) as proc:
        yield proc


@pytest.fixture
def client(server):
    with Client(server.api) as pfs:
        yield pfs


class Collector:
    """A watch read on a thread until ``count`` events (after ``ready``) have arrived."""

    def __init__(self, server, path: str, count: int, recursive: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.count = count
        self.ready = threading.Event()
        self.done = threading.Event()
        self._client = Client(server.api)
        self._stream: Iterator[dict[str, Any]] = self._client.watch(path, recursive)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(30)

    def _run(self) -> None:
        for event in self._stream:
            if event["type"] == "ready":
                self.ready.set()
                continue
            self.events.append(event)
            if len(self.events) >= self.count:
                break
        self.done.set()

    def finish(self) -> list[dict[str, Any]]:
        assert self.done.wait(120), f"saw {len(self.events)} of {self.count} events"
        self._thread.join()
        self._client.close()
        return self.events


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["type"], e["path"], e.get("newPath")) for e in events]


def test_three_watchers_see_exactly_their_subtree_in_order(server, client):
    """A mixed workload of 10,000 operations over four subtrees; three are watched and each
    watcher sees exactly its subtree's events in the order they were made."""
    roots = ["/memfs/w1", "/memfs/w2", "/kvfs/keys", "/memfs/quiet"]
    expected: dict[str, list[tuple[str, str, str | None]]] = {root: [] for root in roots}
    operations: list[tuple[str, tuple[Any, ...]]] = []
    for root in roots:
        if root.startswith("/memfs"):
            operations.append(("mkdir", (root,)))
            expected[root].append(("mkdir", root, None))
    step = 0
    while len(operations) < 10_000:
        root = roots[step % len(roots)]
        name = f"{root}/f{step % 7}"
        kind = ("write", "write", "rename", "remove", "chmod", "touch")[step // 4 % 6]
        if kind == "write" or root.startswith("/kvfs") and kind in ("chmod", "touch"):
            operations.append(("write", (name, f"{step}")))
            expected[root].append(("write", name, None))
        elif kind == "rename":
            operations.append(("write", (name, "x")))
            operations.append(("mv", (name, name + ".moved")))
            operations.append(("rm", (name + ".moved",)))
            expected[root] += [
                ("write", name, None),
                ("rename", name, name + ".moved"),
                ("remove", name + ".moved", None),
            ]
        elif kind == "remove":
            operations.append(("write", (name, "y")))
            operations.append(("rm", (name,)))
            expected[root] += [("write", name, None), ("remove", name, None)]
        elif kind == "chmod":
            operations.append(("write", (name, "z")))
            operations.append(("chmod", (name, 0o600)))
            expected[root] += [("write", name, None), ("chmod", name, None)]
        else:
            operations.append(("write", (name, "t")))
            operations.append(("touch", (name,)))
            expected[root] += [("write", name, None), ("touch", name, None)]
        step += 1
    watched = roots[:3]
    collectors = {root: Collector(server, root, len(expected[root])) for root in watched}
    for method, args in operations:
        getattr(client, method)(*args)
    for root in watched:
        events = collectors[root].finish()
        assert _kinds(events) == expected[root], root
        ids = [event["id"] for event in events]
        assert ids == sorted(ids)
    # Nothing of another subtree came in between: the next event of each is its own.
    followers = {root: Collector(server, root, 1) for root in watched}
    client.write("/memfs/quiet/last", "q")
    for root in watched:
        client.write(f"{root}/last", "l")
        assert _kinds(followers[root].finish()) == [("write", f"{root}/last", None)]


def test_event_carries_the_new_stat(server, client):
    client.mkdir("/memfs/statted", parents=True)
    collector = Collector(server, "/memfs/statted", 2, recursive=False)
    client.write("/memfs/statted/a", "12345")
    client.rm("/memfs/statted/a")
    write, remove = collector.finish()
    assert write["stat"]["size"] == 5 and write["stat"]["name"] == "a"
    assert remove["type"] == "remove" and "stat" not in remove


def test_not_recursive_sees_children_only(server, client):
    client.mkdir("/memfs/flat/deeper", parents=True)
    collector = Collector(server, "/memfs/flat", 1, recursive=False)
    client.write("/memfs/flat/deeper/hidden", "x")
    client.write("/memfs/flat/seen", "x")
    assert _kinds(collector.finish()) == [("write", "/memfs/flat/seen", None)]


def test_mount_and_unmount_events(server, client):
    collector = Collector(server, "/", 2, recursive=True)
    client.mount("memfs", "/extra")
    client.unmount("/extra")
    assert _kinds(collector.finish()) == [("mount", "/extra", None), ("unmount", "/extra", None)]


def test_slow_watcher_gets_overflow_and_server_memory_stays_bounded(server, client):
    """A watcher that reads nothing while 3,000 events of 4 KiB paths happen: the server keeps
    at most its buffer (100 events here), the rest are dropped and an overflow event says so."""
    deep = "/memfs/slow/" + "/".join(["d" * 250] * 16)
    client.mkdir(deep, parents=True)
    before = server.rss_bytes()
    url = f"{server.api}/watch"
    params = {"path": "/memfs/slow", "recursive": "true", "buffer": "100"}
    with httpx.Client(timeout=60) as http, http.stream("GET", url, params=params) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == "event: ready"
        for step in range(3000):
            client.write(f"{deep}/f", str(step))
        grown = server.rss_bytes() - before
        # Holding every event would take 3,000 x 4 KiB paths (12 MiB) and their stats.
        assert grown < 8 << 20, f"server RSS grew {grown} bytes"
        kinds = []
        for line in lines:
            if line.startswith("event: "):
                kinds.append(line[7:])
                if kinds[-1] == "overflow":
                    break
        assert len(kinds) < 3000  # events were dropped, not queued without bound
        # After the overflow the watch goes on with what happens next.
        client.write("/memfs/slow/after", "done")
        data = [line for line in itertools.islice(lines, 6) if line.startswith("data: ")]
        assert '"type":"overflow"' in data[0]
        assert '"path":"/memfs/slow/after"' in data[1]


def test_disconnect_releases_the_watcher(server, client):
    """max_watchers is 4: a fifth watch is refused, and a watch whose client left makes room."""
    streams = [client.watch("/memfs") for _ in range(4)]
    for stream in streams:
        assert next(stream)["type"] == "ready"
    with pytest.raises(Unavailable, match="max_watchers"):
        next(client.watch("/memfs"))
    streams.pop().close()  # the client leaves: the server sees the connection end
    for _attempt in range(200):
        try:
            again = client.watch("/memfs")
            assert next(again)["type"] == "ready"
            break
        except Unavailable:
            threading.Event().wait(0.05)
    else:
        pytest.fail("the closed watch was never released")
    again.close()
    for stream in streams:
        stream.close()


@pytest.mark.parametrize(
    "params",
    [{"recursive": "yes"}, {"stat": "1"}, {"buffer": "0"}, {"buffer": "100001"}],
)
def test_bad_parameters_are_refused(server, client, params):
    response = httpx.get(f"{server.api}/watch", params={"path": "/memfs", **params})
    assert response.status_code == 400
    with pytest.raises(InvalidArgument):
        from pfs.client._base import check_response

        check_response(response)


def test_async_client_watch(server):
    import asyncio

    from pfs.client import AsyncClient

    async def scenario() -> list[dict[str, Any]]:
        async with AsyncClient(server.api) as pfs:
            events = pfs.watch("/memfs/async", recursive=True)
            assert (await anext(events))["type"] == "ready"
            await pfs.mkdir("/memfs/async")
            await pfs.write("/memfs/async/a", "1")
            seen = [await anext(events), await anext(events)]
            await events.aclose()
            return seen

    seen = asyncio.run(scenario())
    assert _kinds(seen) == [("mkdir", "/memfs/async", None), ("write", "/memfs/async/a", None)]


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    from pfs.testing.server import ServerProcess

    root = tmp_path_factory.mktemp("local")
    (root / "sub").mkdir()
    config = {"plugins": {"localfs": {"enabled": True, "path": "/local",
                                      "config": {"local_dir": str(root)}}}}  # fmt: skip
    with ServerProcess(config) as proc:
        yield proc, root


def test_localfs_outside_changes_are_seen(local_server):
    """Files changed in the directory by another program are told (inotify), marked outside;
    the server's own change is told once, not again as its inotify echo."""
    server, root = local_server
    with Client(server.api) as pfs:
        stream = pfs.watch("/local", recursive=True)
        assert next(stream)["type"] == "ready"
        told: queue.Queue = queue.Queue()

        def read_all() -> None:
            with contextlib.suppress(Exception):  # the client closes under it at the end
                for event in stream:
                    told.put(event)

        threading.Thread(target=read_all, daemon=True).start()

        def following(seconds: float = 10):
            try:
                return told.get(timeout=seconds)
            except queue.Empty:
                return None

        # The inotify watch starts with the first watcher: repeat until it reports.
        for step in range(200):
            (root / "sub" / "outside.txt").write_text(f"{step}")
            event = following(0.1)
            if event is not None:
                break
        else:
            pytest.fail("no event for a file written outside the server")
        assert event["path"] == "/local/sub/outside.txt" and event["outside"] is True
        while following(0.5) is not None:  # what the repeated writes left
            pass
        (root / "sub" / "outside.txt").rename(root / "moved.txt")
        moved = following()
        assert (moved["type"], moved["path"], moved["newPath"], moved["outside"]) == (
            "rename", "/local/sub/outside.txt", "/local/moved.txt", True
        )  # fmt: skip
        pfs.write("/local/mine.txt", "server")
        (root / "after.txt").write_text("x")
        seen = [following(), following(), following()]
        assert [(e["type"], e["path"], e.get("outside", False)) for e in seen] == [
            ("write", "/local/mine.txt", False),
            ("create", "/local/after.txt", True),
            ("write", "/local/after.txt", True),
        ]


def test_watch_needs_the_read_role(start_server):
    config = {
        "server": {"auth": {"tokens": [{"token": "reader", "role": "read"}]}},
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    }
    proc = start_server(config)
    url = f"{proc.api}/watch"
    assert httpx.get(url, params={"path": "/memfs"}).status_code == 401
    headers = {"Authorization": "Bearer wrong"}
    assert httpx.get(url, params={"path": "/memfs"}, headers=headers).status_code == 401
    with Client(proc.api, token="reader") as pfs:
        events = pfs.watch("/memfs")
        assert next(events)["type"] == "ready"
        events.close()


def test_server_stops_with_watches_open(start_server):
    """SIGTERM ends open watches (what is queued is still sent), so the graceful stop does not
    wait on them."""
    proc = start_server({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    with Client(proc.api) as pfs:
        events = pfs.watch("/memfs", recursive=True)
        assert next(events)["type"] == "ready"
        pfs.write("/memfs/last", "x")
        assert proc.stop() == 0
        assert [event["type"] for event in events] == ["write"]  # then the stream ended
