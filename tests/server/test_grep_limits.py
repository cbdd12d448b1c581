"""grep stays bounded and never stalls the server (issue 12): files are matched piece by piece,
other requests stay fast during a 500 MB grep, a client that leaves stops the search, ``limit`` and
the server's caps bound the work and the answer, and bad input gets the right status."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
import re2

from pfs.client import AsyncClient, Client
from pfs.testing.server import ServerProcess

#: The big file: groups of 1,000 lines of 1,000 bytes, the last line of each holding a needle.
GROUP = b"x" * 999 + b"\n"
GROUP = GROUP * 999 + b"needle " + b"x" * 992 + b"\n"
GROUPS = (500 << 20) // len(GROUP)


def _config(local: Path, **server: object) -> dict:
    return {
        "server": server,
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "streamfs": {"enabled": True, "path": "/streamfs"},
            "localfs": {"enabled": True, "path": "/local", "config": {"local_dir": str(local)}},
        },
    }


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("grep-local")


@pytest.fixture(scope="module")
def server(local):
    with ServerProcess(_config(local)) as proc:
        yield proc


@pytest.fixture
def d(api):
    path = f"/memfs/g-{uuid.uuid4().hex[:8]}"
    assert api.post("/directories", params={"path": path}).status_code == 201
    yield path
    api.delete("/files", params={"path": path, "recursive": "true"})


def _grep(api: httpx.Client, path: str, pattern: str, **options: object) -> httpx.Response:
    return api.post("/grep", json={"path": path, "pattern": pattern, **options})


def _ndjson(response: httpx.Response) -> list[dict]:
    return [orjson.loads(line) for line in response.text.splitlines() if line]


# -- limit, caps -----------------------------------------------------------------------------


def test_limit_stops_at_that_many_matches(api, d):
    api.put("/files", params={"path": f"{d}/a"}, content=b"hit\n" * 100)
    api.put("/files", params={"path": f"{d}/b"}, content=b"hit\n" * 100)
    answer = _grep(api, f"{d}/a", "hit", limit=5).json()
    assert answer["count"] == 5 and [m["line"] for m in answer["matches"]] == [1, 2, 3, 4, 5]
    walked = _grep(api, d, "hit", recursive=True, limit=150).json()
    assert walked["count"] == 150
    streamed = _ndjson(_grep(api, d, "hit", recursive=True, stream=True, limit=7))
    assert len(streamed) == 8 and streamed[-1] == {"count": 7, "type": "summary"}
    assert _grep(api, d, "hit", recursive=True, limit=0).json()["count"] == 200
    assert _grep(api, d, "hit", limit="5").status_code == 400


async def test_sdk_clients_pass_limit(server, api, d):
    api.put("/files", params={"path": f"{d}/a"}, content=b"hit\n" * 50)
    with Client(server.url) as client:
        assert client.grep(f"{d}/a", "hit", limit=3)["count"] == 3
        assert client.grep(f"{d}/a", "hit")["count"] == 50
        assert list(client.iter_grep(f"{d}/a", "hit", limit=2))[-1]["count"] == 2
    async with AsyncClient(server.url) as aclient:
        assert (await aclient.grep(f"{d}/a", "hit", limit=4))["count"] == 4
        lines = [line async for line in aclient.iter_grep(f"{d}/a", "hit", limit=1)]
        assert lines[-1] == {"count": 1, "type": "summary"}


def test_scan_cap_answers_what_was_found_flagged_truncated(start_server, local):
    capped = start_server(_config(local, grep_max_scan_bytes="1MB"))
    with httpx.Client(base_url=capped.api, timeout=60) as api:
        body = b"needle first\n" + b"y" * 99 + b"\n"
        body += (b"z" * 99 + b"\n") * 30_000 + b"needle last\n"  # 3 MB
        api.put("/files", params={"path": "/memfs/capped"}, content=body)
        answer = _grep(api, "/memfs/capped", "needle").json()
        assert answer == {
            "matches": [{"file": "/memfs/capped", "line": 1, "content": "needle first"}],
            "count": 1,
            "truncated": True,
        }
        summary = _ndjson(_grep(api, "/memfs/capped", "needle", stream=True))[-1]
        assert summary == {"count": 1, "truncated": True, "type": "summary"}
        small = _grep(api, "/memfs/capped", "needle", limit=1).json()
        assert "truncated" not in small  # the limit, not the cap, ended this one


def test_answer_cap_refuses_a_huge_json_answer_but_streams_it(start_server, local):
    capped = start_server(_config(local, grep_max_answer_bytes="64KB"))
    with httpx.Client(base_url=capped.api, timeout=60) as api:
        api.put("/files", params={"path": "/memfs/many"}, content=b"match me\n" * 20_000)
        refused = _grep(api, "/memfs/many", "match")
        assert refused.status_code == 413
        assert "grep_max_answer_bytes" in refused.json()["error"]
        streamed = _ndjson(_grep(api, "/memfs/many", "match", stream=True))
        assert streamed[-1] == {"count": 20_000, "type": "summary"}
        assert _grep(api, "/memfs/many", "match", limit=10).json()["count"] == 10


# -- walking, refusals, messages ---------------------------------------------------------------


def test_a_tree_1100_levels_deep_is_walked_to_the_bottom(api, d):
    path = d
    for _ in range(1100):
        path += "/d"
        assert api.post("/directories", params={"path": path}).status_code == 201
    api.put("/files", params={"path": f"{path}/deep.txt"}, content=b"the bottom\n")
    answer = _grep(api, d, "bottom", recursive=True)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["matches"] == [
        {"file": f"{path}/deep.txt", "line": 1, "content": "the bottom"}
    ]


def test_write_only_file_is_403_not_500(api):
    api.post("/directories", params={"path": "/queuefs/wo"})
    answer = _grep(api, "/queuefs/wo/enqueue", "x")
    assert answer.status_code == 403
    assert answer.json()["error"].startswith("grep failed: ")


def test_a_file_whose_read_has_an_effect_is_refused_when_named(api):
    api.post("/directories", params={"path": "/queuefs/named"})
    api.put("/files", params={"path": "/queuefs/named/enqueue"}, content=b"keep me")
    answer = _grep(api, "/queuefs/named/dequeue", "keep")
    assert answer.status_code == 400 and "consumes data" in answer.json()["error"]
    assert api.get("/files", params={"path": "/queuefs/named/size"}).text == "1"
    api.put("/files", params={"path": "/streamfs/named"}, content=b"live")
    endless = _grep(api, "/streamfs/named", "live", stream=True)
    assert endless.status_code == 400 and "never ends" in endless.json()["error"]


def test_invalid_regex_message_is_plain_text(api):
    answer = _grep(api, "/memfs", "(")
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid regex pattern: missing ): ("}


# -- matching across pieces ------------------------------------------------------------------


def _reference(data: bytes, pattern: str) -> list[tuple[int, str]]:
    """The original's rules applied to the whole file at once."""
    options = re2.Options()
    options.log_errors = False
    regex = re2.compile(pattern, options)
    text = data.decode("utf-8", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if regex.search(line):
            found.append((number, line))
    return found


LINE_PATTERNS = [
    "needle",
    r"needle$",
    r"^needle",
    "^$",
    r"\sb",  # crosses line ends in a block of lines: must still match per line
    r"(?s)e.x",
    r"\Aneedle",  # matched line by line
    r"needle\z",
    "é",
    "\ufffd",
]


@pytest.mark.parametrize("plugin", ["/memfs", "/local"])
def test_lines_longer_than_a_piece_match_whole(api, plugin):
    # Lines of up to 64 KiB straddle the plugins' pieces (memfs 256 KiB, localfs 1 MiB) at
    # every offset; CRLF ends, multi-byte characters and bad bytes fall on the boundaries too.
    parts = []
    for size in range(1000, 65_000, 997):
        parts.append(b"a" * (size - 10) + b" needle\r\n")
        parts.append(b"x" * (size // 3) + b"needle\n")
        parts.append(b"\nb-line\n")
        parts.append("é".encode() * (size // 7) + b"\xe2\x82 b\n")
    data = b"".join(parts) + b"tail needle"  # no final newline
    assert len(data) > 3 << 20
    path = f"{plugin}/pieces-{uuid.uuid4().hex[:6]}.txt"
    assert api.put("/files", params={"path": path}, content=data).status_code == 200
    for pattern in LINE_PATTERNS:
        expected = _reference(data, pattern)
        answer = _grep(api, path, pattern)
        assert answer.status_code == 200, (pattern, answer.text[:200])
        got = [(m["line"], m["content"]) for m in answer.json()["matches"]]
        assert got == expected, pattern


def test_a_line_over_64_kib_ends_that_file_like_the_original(api, d):
    api.put("/files", params={"path": f"{d}/long"}, content=b"a" * (65 << 10) + b"\n")
    answer = _grep(api, f"{d}/long", "a")
    assert answer.status_code == 500
    assert answer.json() == {"error": "grep failed: bufio.Scanner: token too long"}


# -- the 500 MB grep: responsive, bounded, stops with its client -----------------------------


@pytest.fixture(scope="module")
def big_file(local) -> str:
    """500 MB on localfs, written by the test directly (the server's memory stays out of it)."""
    with open(local / "big.txt", "wb") as file:
        for _ in range(GROUPS):
            file.write(GROUP)
    yield "/local/big.txt"
    os.unlink(local / "big.txt")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Probe(threading.Thread):
    """GET /health every 2 ms (latencies kept) and the server's peak RSS, until stopped.

    Many samples keep the p99 about the server rather than a single stall of this busy machine.
    """

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.latencies: list[float] = []
        self.peak_rss = 0
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.server.api, timeout=30) as client:
            while not self.halt.is_set():
                self.peak_rss = max(self.peak_rss, self.server.rss_bytes())
                start = time.perf_counter()
                assert client.get("/health").status_code == 200
                self.latencies.append(time.perf_counter() - start)
                time.sleep(0.002)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)]


@pytest.mark.parametrize("pattern", ["needle", r"\Aneedle"], ids=["block", "line-by-line"])
def test_500_mb_grep_keeps_other_requests_fast_and_memory_flat(api, server, big_file, pattern):
    # Other test runs share this machine, and one stall of it alone can pass 100 ms: the p99 must
    # hold in one of three greps (the old server stalled in every one for seconds), the RSS bound
    # in all of them.
    assert _grep(api, big_file, pattern, limit=1).json()["count"] == 1  # warm up
    before = server.rss_bytes()
    runs: list[_Probe] = []
    while len(runs) < 3 and not any(run.p99() < 0.100 for run in runs):
        probe = _Probe(server)
        probe.start()
        time.sleep(0.2)
        started = time.monotonic()
        answer = _grep(api, big_file, pattern)
        took = time.monotonic() - started
        probe.halt.set()
        probe.join()
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["count"] == GROUPS
        runs.append(probe)
        print(
            f"{pattern}: {took:.1f}s, {len(probe.latencies)} health checks, "
            f"p99 {probe.p99() * 1000:.1f} ms, max {max(probe.latencies) * 1000:.1f} ms, "
            f"RSS growth {(probe.peak_rss - before) / 2**20:.1f} MiB"
        )
    assert min(run.p99() for run in runs) < 0.100
    assert max(run.peak_rss for run in runs) - before < 64 << 20


@pytest.mark.parametrize("stream", [False, True], ids=["json", "ndjson"])
def test_grep_stops_within_a_second_of_its_client_leaving(server, local, big_file, stream):
    # Eight names for the big file make a walk of 4 GB: far longer than this test waits.
    tree = local / f"walk-{int(stream)}"
    tree.mkdir(exist_ok=True)
    for n in range(8):
        if not (tree / f"copy{n}").exists():
            os.link(local / "big.txt", tree / f"copy{n}")
    body = orjson.dumps(
        {"path": f"/local/{tree.name}", "pattern": r"\Azzz", "recursive": True, "stream": stream}
    )
    worker = server.worker_pid()
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(
            b"POST /api/v1/grep HTTP/1.1\r\nHost: pfs\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        time.sleep(0.5)
        busy_from = _cpu_seconds(worker)
        time.sleep(1.0)
        busy = _cpu_seconds(worker) - busy_from
        conn.shutdown(socket.SHUT_RDWR)
    left = time.monotonic()
    time.sleep(max(0.0, left + 1.0 - time.monotonic()))
    idle_from = _cpu_seconds(worker)
    time.sleep(1.0)
    after = _cpu_seconds(worker) - idle_from
    print(f"CPU: {busy:.2f}s in 1 s while grepping, {after:.2f}s in the second after it left")
    assert busy > 0.1  # the grep was running when the client left
    assert after < 0.1
