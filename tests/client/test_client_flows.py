"""The SDK's shared flows, driven by hand with no server: each yields the request it needs and
takes the answer (or the error) it is given, so one flow serves Client and AsyncClient."""

import io

import pytest

from pfs.client import _flows as flows
from pfs.client._base import Call, EndpointMissing
from pfs.fs.errors import AlreadyExists, NotADirectory, NotFound
from pfs.fs.fileinfo import FileInfo


def _asks(request: flows.Request) -> tuple[str, str, dict[str, str]]:
    assert isinstance(request, Call)
    return request.method, request.endpoint, request.params


def _result(flow: flows.Flow, answer: object) -> object:
    with pytest.raises(StopIteration) as stop:
        flow.send(answer)
    return stop.value.value


def test_mkdir_parents_stats_each_ancestor_and_creates_the_missing_ones():
    flow = flows.mkdir_parents("/m/a/b")
    assert _asks(next(flow)) == ("GET", "/stat", {"path": "/m"})
    assert _asks(flow.send(FileInfo("m", is_dir=True))) == ("GET", "/stat", {"path": "/m/a"})
    assert _asks(flow.throw(NotFound("gone"))) == (
        "POST",
        "/directories",
        {"path": "/m/a", "mode": "755"},
    )
    # Created meanwhile by someone else: taken as there.
    assert _asks(flow.throw(AlreadyExists("raced"))) == ("GET", "/stat", {"path": "/m/a/b"})
    assert _asks(flow.throw(NotFound("gone"))) == (
        "POST",
        "/directories",
        {"path": "/m/a/b", "mode": "755"},
    )
    assert _result(flow, "created") == "created"


def test_mkdir_parents_refuses_a_file_on_the_way():
    flow = flows.mkdir_parents("/m/f/x")
    next(flow)
    flow.send(FileInfo("m", is_dir=True))
    with pytest.raises(NotADirectory, match="not a directory: /m/f"):
        flow.send(FileInfo("f"))


def test_seek_asks_the_size_only_for_seek_end_when_unknown():
    known = flows.seek("/m/f", pos=5, offset=-2, whence=io.SEEK_END, size=10)
    with pytest.raises(StopIteration) as stop:
        next(known)
    assert stop.value.value == 8
    unknown = flows.seek("/m/f", pos=5, offset=-2, whence=io.SEEK_END)
    assert _asks(next(unknown)) == ("GET", "/stat", {"path": "/m/f"})
    assert _result(unknown, FileInfo("f", size=10)) == 8


def test_copy_asks_the_server_to_copy():
    flow = flows.copy("/m/src", "/m/dir/dst", recursive=False, progress=None)
    assert _asks(next(flow)) == ("GET", "/stat", {"path": "/m/src"})
    assert _asks(flow.send(FileInfo("src", size=3))) == ("GET", "/stat", {"path": "/m"})
    assert _asks(flow.send(FileInfo("m", is_dir=True))) == ("GET", "/stat", {"path": "/m/dir"})
    call = flow.send(FileInfo("dir", is_dir=True))
    assert _asks(call) == ("POST", "/copy", {})
    assert call.json == {"path": "/m/src", "newPath": "/m/dir/dst", "recursive": False}
    assert _result(flow, 3) == 3


def test_copy_hands_the_bytes_to_the_client_as_a_pipe_without_server_copy():
    """On a server without /copy the flow never holds the file's bytes: it asks the client to
    stream src into dst."""
    flow = flows.copy("/m/src", "/m/dir/dst", recursive=False, progress=None)
    assert _asks(next(flow)) == ("GET", "/stat", {"path": "/m/src"})
    assert _asks(flow.send(FileInfo("src", size=3))) == ("GET", "/stat", {"path": "/m"})
    assert _asks(flow.send(FileInfo("m", is_dir=True))) == ("GET", "/stat", {"path": "/m/dir"})
    assert _asks(flow.send(FileInfo("dir", is_dir=True)))[1] == "/copy"
    pipe = flow.throw(EndpointMissing("/api/v1/copy: not served here"))
    assert isinstance(pipe, flows.Pipe)
    assert (pipe.source, pipe.target) == ("/m/src", "/m/dir/dst")
    assert _result(flow, 3) == 3
