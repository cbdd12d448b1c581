"""AGFS's routes over the same handlers: POST /write (raw and JSON), POST /mkdir, GET /list,
and the service document at /."""

from __future__ import annotations

import httpx
import pytest

from pfs import __version__


def read(api: httpx.Client, path: str) -> bytes:
    response = api.get("/files", params={"path": path})
    assert response.status_code == 200, response.text
    return response.content


def test_write_with_a_raw_body_is_put_files(api):
    response = api.post("/write", params={"path": "/memfs/alias-raw"}, content=b"raw bytes")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"message"}
    assert read(api, "/memfs/alias-raw") == b"raw bytes"
    response = api.post(
        "/write", params={"path": "/memfs/alias-raw", "offset": 4}, content=b"BYTES"
    )
    assert response.status_code == 200 and read(api, "/memfs/alias-raw") == b"raw BYTES"


def test_write_with_a_json_body_writes_its_text(api):
    response = api.post(
        "/write", params={"path": "/memfs/alias-json"}, json={"data": "héllo\n"}
    )
    assert response.status_code == 200, response.text
    assert read(api, "/memfs/alias-json") == "héllo\n".encode()
    # Go's decoder matches names case-insensitively; so does ours.
    api.post("/write", params={"path": "/memfs/alias-json"}, json={"Data": "second"})
    assert read(api, "/memfs/alias-json") == b"second"


def test_write_answers_what_put_answers(api):
    """A queue's enqueue answers the message id through both."""
    put = api.put("/files", params={"path": "/kvfs/keys/a"}, content=b"1").json()
    post = api.post("/write", params={"path": "/kvfs/keys/a"}, content=b"1").json()
    assert put == post


@pytest.mark.parametrize(
    "params, kwargs, status, message",
    [
        ({"path": "/memfs/bad"}, {"content": b"{", "headers": {"content-type": "application/json"}},
         400, "invalid request body"),
        ({"path": "/memfs/bad"}, {"json": {"data": 5}}, 400, "data must be str"),
        ({"path": "/memfs/bad"}, {"json": {"other": "x"}}, 400, 'expected {"data": "<text>"}'),
        ({"path": "/memfs/bad"}, {"json": ["x"]}, 400, "expected a JSON object"),
        ({}, {"json": {"data": "x"}}, 400, "path parameter is required"),
        ({}, {"content": b"x"}, 400, "path parameter is required"),
        ({"path": "/nowhere/x"}, {"content": b"x"}, 404, "no such file or directory"),
    ],
)
def test_bad_writes_are_refused_and_write_nothing(api, params, kwargs, status, message):
    response = api.post("/write", params=params, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert api.get("/stat", params={"path": "/memfs/bad"}).status_code == 404


def test_a_json_write_over_the_body_limit_is_413(start_server):
    config = {
        "server": {"max_body_bytes": "1KB"},
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
    }
    with start_server(config) as small:
        response = httpx.post(
            small.api + "/write", params={"path": "/memfs/big"}, json={"data": "x" * 4096}
        )
        assert response.status_code == 413, response.text
        stat = httpx.get(small.api + "/stat", params={"path": "/memfs/big"})
        assert stat.status_code == 404


def test_mkdir_and_list(api):
    response = api.post("/mkdir", params={"path": "/memfs/alias-dir", "mode": "700"})
    assert response.status_code == 201 and response.json() == {"message": "directory created"}
    api.put("/files", params={"path": "/memfs/alias-dir/f"}, content=b"x")
    listed = api.get("/list", params={"path": "/memfs/alias-dir"})
    assert listed.status_code == 200
    assert listed.json() == api.get("/directories", params={"path": "/memfs/alias-dir"}).json()
    assert [entry["name"] for entry in listed.json()["files"]] == ["f"]
    assert api.get("/stat", params={"path": "/memfs/alias-dir"}).json()["mode"] & 0o777 == 0o700
    assert api.post("/mkdir", params={"path": "/memfs/alias-dir"}).status_code == 409
    assert api.post("/mkdir").status_code == 400
    assert api.get("/list", params={"path": "/memfs/none"}).status_code == 404


def test_creating_outside_every_mount_stays_the_original_404(api):
    """AGFS answers 403 here; the original's 404 is kept (both client families see an error)."""
    for response in (
        api.post("/mkdir", params={"path": "/nowhere/d"}),
        api.post("/directories", params={"path": "/nowhere"}),
        api.post("/files", params={"path": "/nowhere"}),
        api.post("/write", params={"path": "/nowhere"}, json={"data": "x"}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"].startswith("no such file or directory: /nowhere")


@pytest.mark.parametrize(
    "method, route", [("GET", "/write"), ("GET", "/mkdir"), ("DELETE", "/mkdir"),
                      ("POST", "/list"), ("DELETE", "/list")]
)
def test_aliases_take_one_method(api, method, route):
    response = api.request(method, route, params={"path": "/memfs/alias-method"})
    assert response.status_code == 405 and response.json() == {"error": "method not allowed"}


def test_the_root_answers_the_service_document_to_json_clients(server):
    for headers in ({}, {"accept": "application/json"}, {"accept": "*/*"}):
        response = httpx.get(server.url + "/", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"service": "PFS Server", "status": "running",
                                   "version": __version__}
    assert httpx.post(server.url + "/").json()["status"] == "running"


def test_the_root_shows_a_browser_the_web_file_manager(server):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = httpx.get(server.url + "/", headers={"accept": browser})
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert '<script type="module" src="/ui/app.js">' in response.text


def test_other_unknown_paths_stay_the_original_404(server):
    for path in ("/x", "/api/v1/sync", "/api/v1/nope", "/api/v1/files/"):
        response = httpx.get(server.url + path)
        assert response.status_code == 404 and response.text == "404 page not found\n"
