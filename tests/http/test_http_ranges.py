"""pfs.http's range answers and HEAD answers, called in-process on a real memfs: the ASGI messages
they send are collected as a server would receive them."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from pfs.fs import InvalidArgument, ReadEffect, validate_config
from pfs.http.ranges import parse_range, range_response
from pfs.http.responses import (
    Response,
    StreamResponse,
    error_response,
    head_only,
    text_response,
)
from pfs.plugins.memfs import MemFS

DATA = bytes(range(256)) * 4  # 1 KiB


@pytest.fixture
async def fs():
    memfs = MemFS(validate_config("memfs", MemFS.config_schema, {}))
    await memfs.start()
    await memfs.write("/f", DATA)
    yield memfs
    await memfs.shutdown()


async def sent(response: Response | StreamResponse) -> tuple[int, dict[bytes, bytes], bytes]:
    """(status, headers, body) that ``response`` sends to a client that stays."""
    messages: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        return await asyncio.get_running_loop().create_future()  # the client never leaves

    await response(send, receive)
    start, *pieces = messages
    assert not pieces[-1].get("more_body", False)  # the answer was finished
    return start["status"], dict(start["headers"]), b"".join(p["body"] for p in pieces)


@pytest.mark.parametrize(
    "header, span",
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=100-", (100, 1023)),
        ("bytes=-24", (1000, 1023)),
        ("bytes=1000-5000", (1000, 1023)),
        ("BYTES = 5-9", (5, 9)),
        ("bytes=1024-", None),
        ("bytes=-0", None),
    ],
)
def test_parse_range(header, span):
    assert parse_range(header, len(DATA)) == span


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-1,5-6", "bytes=9-3", "bytes=x-", "bytes"])
def test_not_a_single_byte_range(header):
    with pytest.raises(ValueError):
        parse_range(header, len(DATA))


async def test_range_is_206_with_the_slice(fs):
    info = await fs.stat("/f")
    response = await range_response(
        fs, "/f", info, "bytes=10-19", content_type=b"text/plain", headers=[(b"x-a", b"1")]
    )
    assert isinstance(response, StreamResponse)
    status, headers, body = await sent(response)
    assert (status, body) == (206, DATA[10:20])
    assert headers[b"content-range"] == b"bytes 10-19/1024"
    assert headers[b"content-length"] == b"10"
    assert headers[b"content-type"] == b"text/plain" and headers[b"x-a"] == b"1"


@pytest.mark.parametrize(
    "error, body",
    [
        (error_response, b'{"error":"range not satisfiable: bytes=2000- (file size 1024)"}\n'),
        (text_response, b"range not satisfiable: bytes=2000- (file size 1024)\n"),
    ],
)
async def test_past_the_end_is_416_in_the_app_s_words(fs, error, body):
    info = await fs.stat("/f")
    response = await range_response(fs, "/f", info, "bytes=2000-", error=error)
    assert isinstance(response, Response)
    status, headers, sent_body = await sent(response)
    assert (status, sent_body) == (416, body)
    assert headers[b"content-range"] == b"bytes */1024"


async def test_not_a_byte_range_leaves_the_answer_to_the_caller(fs):
    info = await fs.stat("/f")
    assert await range_response(fs, "/f", info, "items=0-5") is None


async def test_a_file_whose_read_has_an_effect_is_refused(fs):
    info = dataclasses.replace(await fs.stat("/f"), read_effect=ReadEffect.CONSUMES)
    with pytest.raises(InvalidArgument, match="read whole"):
        await range_response(fs, "/f", info, "bytes=0-1")


async def test_head_keeps_status_and_length_without_the_body(fs):
    status, headers, body = await sent(await head_only(Response(200, DATA, b"x/y")))
    assert (status, body, headers[b"content-length"]) == (200, b"", b"1024")
    info = await fs.stat("/f")
    ranged = await range_response(fs, "/f", info, "bytes=0-99")
    assert ranged is not None
    status, headers, body = await sent(await head_only(ranged))
    assert (status, body, headers[b"content-length"]) == (206, b"", b"100")
    assert headers[b"content-range"] == b"bytes 0-99/1024"
