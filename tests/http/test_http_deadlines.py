"""Request body deadlines (pfs.http.deadlines through Request): a silent client gets 408, reads
that finished are never cancelled afterwards, other cancellations stay cancellations, and
deadlines of different lengths each fire at their own time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pfs.fs.errors import RequestTimeout
from pfs.http.requests import Request

SCOPE = {"type": "http", "method": "PUT", "path": "/api/v1/files", "query_string": b"",
         "headers": [(b"content-length", b"4")]}


def silent_request(timeout: float) -> Request:
    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # a client that never sends its body
        raise AssertionError("unreachable")

    return Request(dict(SCOPE), receive, timeout)


def answering_request(timeout: float) -> Request:
    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"type": "http.request", "body": b"data", "more_body": False}

    return Request(dict(SCOPE), receive, timeout)


async def test_silent_client_gets_request_timeout():
    with pytest.raises(RequestTimeout) as caught:
        await silent_request(0.05).body(1024)
    assert "server.body_timeout" in caught.value.message
    assert asyncio.current_task().cancelling() == 0  # the deadline's cancel is taken back


async def test_finished_reads_are_not_cancelled_later():
    for _ in range(100):
        assert await answering_request(0.05).body(1024) == b"data"
    # Well past every deadline those reads had: nothing of theirs fires at this task.
    await asyncio.sleep(0.3)
    assert asyncio.current_task().cancelling() == 0


async def test_other_cancellation_stays_a_cancellation():
    reader = asyncio.ensure_future(silent_request(30).body(1024))
    await asyncio.sleep(0.01)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader


async def test_a_shorter_deadline_armed_later_fires_first():
    long = asyncio.ensure_future(silent_request(30).body(1024))
    await asyncio.sleep(0.01)
    with pytest.raises(RequestTimeout):
        await silent_request(0.05).body(1024)
    assert not long.done()
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
