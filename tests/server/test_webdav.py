"""WebDAV at /webdav/ over the whole namespace: the litmus suites (basic, copymove, props, locks,
http) against real plugins, and each kind of request the layer handles or refuses, over HTTP."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from pfs.plugins.registry import builtin_registry
from pfs.server.config import ConfigError, settings_from_dict
from pfs.testing.fixtures import server_fixture
from pfs.testing.server import ServerProcess

server = server_fixture(
    {
        "plugins": {
            "memfs": {"enabled": True, "path": "/memfs"},
            "kvfs": {"enabled": True, "path": "/kvfs"},
            "queuefs": {"enabled": True, "path": "/queuefs"},
            "streamfs": {"enabled": True, "path": "/streamfs"},
        }
    }
)

LITMUS_SUITES = ("basic", "copymove", "props", "locks", "http")
#: litmus tests that pass with a warning, and why. delete_fragment: Granian (hyper) drops the
#: ``#fragment`` of the request target before the app sees it, so the DELETE acts on the
#: collection the URI names without it, which litmus calls unsafe.
LITMUS_WARNINGS = {"delete_fragment"}


def run_litmus(url: str, cwd: Path, *auth: str) -> tuple[dict[str, str], set[str], str]:
    """Every litmus test's result (pass/FAIL/SKIPPED) by name, the tests that warned, and the
    output."""
    result = subprocess.run(
        ["litmus", url, *auth],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"TESTS": " ".join(LITMUS_SUITES), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    results: dict[str, str] = {}
    warned: set[str] = set()
    current = ""
    for line in result.stdout.splitlines():
        named = re.match(r"^\s*\d+\.\s+(\w+)", line)
        if named:
            current = named.group(1)
        if "WARNING" in line:
            warned.add(current)
        for word in ("FAIL", "SKIPPED", "pass"):
            if re.search(rf"\.\s+{word}\b|\.\.\. {word}\b|^\s*\.+\s+{word}\b", line):
                results[current] = word
    return results, warned, result.stdout


def assert_litmus_clean(url: str, cwd: Path, *auth: str) -> None:
    results, warned, output = run_litmus(url, cwd, *auth)
    summaries = re.findall(r"summary for `(\w+)': of (\d+) tests run: (\d+) passed", output)
    assert [s[0] for s in summaries] == list(LITMUS_SUITES), output
    assert all(total == passed for _, total, passed in summaries), output
    assert {name for name, word in results.items() if word != "pass"} == set(), output
    assert warned == LITMUS_WARNINGS, output
    assert sum(int(total) for _, total, _ in summaries) == 104


def test_litmus_on_memfs(server, tmp_path):
    assert_litmus_clean(f"{server.url}/webdav/memfs/", tmp_path)


def test_litmus_on_localfs_with_basic_auth_carrying_a_token(start_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc = start_server(
        {
            "server": {"auth": {"tokens": [{"token": "w-token", "role": "write"}]}},
            "plugins": {"localfs": {"enabled": True, "path": "/local",
                                    "config": {"local_dir": str(data)}}},
        }
    )
    assert_litmus_clean(f"{proc.url}/webdav/local/", tmp_path, "anyone", "w-token")


# -- one request at a time ---------------------------------------------------------------------


@pytest.fixture
def dav(server):
    with httpx.Client(base_url=server.url + "/webdav", timeout=60) as client:
        yield client


@pytest.fixture
def work(dav, api):
    """An empty collection /memfs/w, removed afterwards."""
    assert dav.request("MKCOL", "/memfs/w").status_code == 201
    yield "/memfs/w"
    api.delete("/directories", params={"path": "/memfs/w", "recursive": "true"})


def propfind(dav: httpx.Client, path: str, depth: str = "1", body: bytes = b"") -> httpx.Response:
    return dav.request("PROPFIND", path, headers={"Depth": depth}, content=body)


def test_options_advertises_class_2(dav):
    r = dav.request("OPTIONS", "/")
    assert r.status_code == 200
    assert r.headers["dav"] == "1, 2"
    assert "PROPFIND" in r.headers["allow"] and "LOCK" in r.headers["allow"]


def test_propfind_lists_the_mount_table(dav):
    r = propfind(dav, "/")
    assert r.status_code == 207
    for href in ("/webdav/", "/webdav/memfs/", "/webdav/kvfs/", "/webdav/queuefs/"):
        assert f"<D:href>{href}</D:href>" in r.text


def test_propfind_depth_infinity_is_refused(dav):
    for headers in ({"Depth": "infinity"}, {}):
        r = dav.request("PROPFIND", "/", headers=headers)
        assert r.status_code == 403
        assert "Depth" in r.text


def test_propfind_refuses_bad_xml_and_bad_depth(dav):
    assert propfind(dav, "/memfs", body=b"<propfind").status_code == 400
    assert propfind(dav, "/memfs", depth="2").status_code == 400
    assert propfind(dav, "/memfs/missing").status_code == 404


def test_propfind_shows_size_etag_and_type(dav, work):
    assert dav.put(f"{work}/a.txt", content=b"hello").status_code == 201
    r = propfind(dav, f"{work}/a.txt", depth="0")
    assert "<D:getcontentlength>5</D:getcontentlength>" in r.text
    assert "<D:getcontenttype>text/plain</D:getcontenttype>" in r.text
    etag = re.search(r"<D:getetag>(.*?)</D:getetag>", r.text).group(1)
    assert dav.get(f"{work}/a.txt").headers["etag"] == etag.replace("&quot;", '"')


def test_names_with_spaces_and_unicode(dav, api, work):
    assert dav.put(f"{work}/a b ü.txt", content=b"x").status_code == 201
    assert api.get("/files", params={"path": f"{work}/a b ü.txt"}).content == b"x"
    assert "/webdav/memfs/w/a%20b%20%C3%BC.txt" in propfind(dav, work).text


def test_get_ranges(dav, work):
    dav.put(f"{work}/r", content=b"0123456789")
    r = dav.get(f"{work}/r", headers={"Range": "bytes=2-4"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"234", "bytes 2-4/10")
    r = dav.get(f"{work}/r", headers={"Range": "bytes=20-"})
    assert r.status_code == 416
    head = dav.head(f"{work}/r")
    assert (head.status_code, head.headers["content-length"]) == (200, "10")


def test_rfc9110_conditions_on_get_put_delete(dav, api, work):
    dav.put(f"{work}/c", content=b"abc")
    etag = dav.get(f"{work}/c").headers["etag"]
    # One tag for a file, whichever front end is asked.
    assert api.head("/files", params={"path": f"{work}/c"}).headers["etag"] == etag
    assert dav.get(f"{work}/c", headers={"If-None-Match": etag}).status_code == 304
    modified = dav.head(f"{work}/c").headers["last-modified"]
    assert dav.get(f"{work}/c", headers={"If-Modified-Since": modified}).status_code == 304
    stale = dav.put(f"{work}/c", content=b"lost", headers={"If-Match": '"0-0"'})
    assert stale.status_code == 412
    assert dav.delete(f"{work}/c", headers={"If-Match": '"0-0"'}).status_code == 412
    assert dav.get(f"{work}/c").content == b"abc"
    assert dav.put(f"{work}/c", content=b"new", headers={"If-Match": etag}).status_code == 204
    assert dav.get(f"{work}/c").content == b"new"
    created = dav.put(f"{work}/d", content=b"d", headers={"If-None-Match": "*"})
    assert created.status_code == 201
    assert dav.put(f"{work}/d", content=b"x", headers={"If-None-Match": "*"}).status_code == 412


def test_large_put_is_streamed_and_read_back(dav, api, work):
    data = bytes(range(256)) * (24 << 10)  # 6 MiB, sent chunked
    r = dav.put(f"{work}/big", content=iter([data[i : i + 65536] for i in range(0, len(data),
                                                                                65536)]))
    assert r.status_code == 201
    assert dav.get(f"{work}/big").content == data
    assert api.get("/stat", params={"path": f"{work}/big"}).json()["size"] == len(data)


def test_put_refusals_leave_data_unchanged(dav, work):
    assert dav.put("/memfs/nowhere/x", content=b"x").status_code == 409
    assert dav.put(work, content=b"x").status_code == 405
    dav.put(f"{work}/whole", content=b"0123456789")
    partial = dav.put(f"{work}/whole", content=b"ab", headers={"Content-Range": "bytes 0-1/10"})
    assert partial.status_code == 400
    assert dav.get(f"{work}/whole").content == b"0123456789"
    assert propfind(dav, "/memfs/nowhere").status_code == 404


def test_mkcol_refusals(dav, work):
    assert dav.request("MKCOL", work).status_code == 405
    assert dav.request("MKCOL", "/memfs/no/parent").status_code == 409
    assert dav.request("MKCOL", f"{work}/b", content=b"<x/>").status_code == 415
    assert propfind(dav, f"{work}/b").status_code == 404


def test_move_across_mounts_copies_then_deletes(dav, api, work, tmp_path):
    dav.put(f"{work}/m.txt", content=b"moving")
    r = dav.request("MOVE", f"{work}/m.txt",
                    headers={"Destination": "/webdav/kvfs/keys/m.txt"})
    assert r.status_code == 201
    assert api.get("/files", params={"path": "/kvfs/keys/m.txt"}).content == b"moving"
    assert api.get("/stat", params={"path": f"{work}/m.txt"}).status_code == 404
    api.delete("/files", params={"path": "/kvfs/keys/m.txt"})


def test_copy_overwrite_and_destination_checks(dav, api, work):
    dav.put(f"{work}/a", content=b"A")
    dav.put(f"{work}/b", content=b"B")
    refused = dav.request("COPY", f"{work}/a",
                          headers={"Destination": f"/webdav{work}/b", "Overwrite": "F"})
    assert refused.status_code == 412
    assert api.get("/files", params={"path": f"{work}/b"}).content == b"B"
    elsewhere = dav.request("COPY", f"{work}/a",
                            headers={"Destination": "http://other.example/dav/b"})
    assert elsewhere.status_code == 502
    bad = dav.request("COPY", f"{work}/a", headers={"Destination": f"/webdav{work}/c",
                                                    "Overwrite": "maybe"})
    assert bad.status_code == 400
    into_itself = dav.request("COPY", work, headers={"Destination": f"/webdav{work}/sub"})
    assert into_itself.status_code == 403
    ok = dav.request("COPY", f"{work}/a", headers={"Destination": f"/webdav{work}/b"})
    assert ok.status_code == 204
    assert api.get("/files", params={"path": f"{work}/b"}).content == b"A"


LOCKINFO = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>tester</D:owner></D:lockinfo>"
)


def test_exclusive_lock_guards_writes_until_unlocked(dav, api, work):
    dav.put(f"{work}/l", content=b"v1")
    r = dav.request("LOCK", f"{work}/l", content=LOCKINFO, headers={"Timeout": "Infinite"})
    assert r.status_code == 200
    token = r.headers["lock-token"]
    assert "<D:timeout>Second-86400</D:timeout>" in r.text  # capped
    assert dav.put(f"{work}/l", content=b"v2").status_code == 423
    assert dav.delete(f"{work}/l").status_code == 423
    assert dav.request("MOVE", f"{work}/l",
                       headers={"Destination": f"/webdav{work}/n"}).status_code == 423
    assert dav.request("LOCK", f"{work}/l", content=LOCKINFO).status_code == 423
    assert api.get("/files", params={"path": f"{work}/l"}).content == b"v1"
    assert dav.put(f"{work}/l", content=b"v2", headers={"If": f"({token})"}).status_code == 204
    refresh = dav.request("LOCK", f"{work}/l", headers={"If": f"({token})",
                                                         "Timeout": "Second-60"})
    assert refresh.status_code == 200 and "Second-60" in refresh.text
    assert dav.request("UNLOCK", f"{work}/l",
                       headers={"Lock-Token": "<opaquelocktoken:nope>"}).status_code == 409
    assert dav.request("UNLOCK", f"{work}/l", headers={"Lock-Token": token}).status_code == 204
    assert dav.put(f"{work}/l", content=b"v3").status_code == 204


def test_if_header_refusals(dav, work):
    dav.put(f"{work}/i", content=b"x")
    assert dav.put(f"{work}/i", content=b"y", headers={"If": "(<bad"}).status_code == 400
    assert dav.put(f"{work}/i", content=b"y", headers={"If": '(["nope"])'}).status_code == 412
    assert dav.get(f"{work}/i").content == b"x"


def test_proppatch_dead_properties_and_protected_ones(dav, work):
    dav.put(f"{work}/p", content=b"x")
    setting = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
               b"<D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>")
    assert dav.request("PROPPATCH", f"{work}/p", content=setting).status_code == 207
    asked = b'<D:propfind xmlns:D="DAV:"><D:prop><Z:color xmlns:Z="urn:z"/></D:prop></D:propfind>'
    assert ">blue</" in propfind(dav, f"{work}/p", "0", asked).text
    protected = (b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
                 b"<D:getetag>x</D:getetag><Z:color>red</Z:color></D:prop></D:set>"
                 b"</D:propertyupdate>")
    r = dav.request("PROPPATCH", f"{work}/p", content=protected)
    assert "403 Forbidden" in r.text and "424 Failed Dependency" in r.text
    assert ">blue</" in propfind(dav, f"{work}/p", "0", asked).text
    assert dav.request("PROPPATCH", f"{work}/p", content=b"<x").status_code == 400


def test_consuming_and_endless_files_are_listed_never_read(dav, api):
    api.post("/directories", params={"path": "/queuefs/dav"})
    api.put("/files", params={"path": "/queuefs/dav/enqueue"}, content=b"keep me")
    try:
        listing = propfind(dav, "/queuefs/dav")
        assert listing.status_code == 207 and "dequeue" in listing.text
        for path in ("/queuefs/dav/dequeue", "/streamfs/s"):
            if path.startswith("/streamfs"):
                api.put("/files", params={"path": path}, content=b"live")
            r = dav.get(path)
            assert r.status_code == 403, r.text
            assert "does not read it" in r.text
        copied = dav.request("COPY", "/queuefs/dav/dequeue",
                             headers={"Destination": "/webdav/memfs/dq"})
        assert copied.status_code == 403
        assert api.get("/files", params={"path": "/queuefs/dav/size"}).text.strip() == "1"
        message = api.get("/files", params={"path": "/queuefs/dav/dequeue"}).json()
        assert message["data"] == "keep me"
    finally:
        api.delete("/directories", params={"path": "/queuefs/dav", "recursive": "true"})


def test_moving_a_queue_across_mounts_reads_no_message_and_keeps_the_source(dav, api):
    api.post("/directories", params={"path": "/queuefs/mv"})
    api.put("/files", params={"path": "/queuefs/mv/enqueue"}, content=b"still here")
    try:
        r = dav.request("MOVE", "/queuefs/mv", headers={"Destination": "/webdav/memfs/mv"})
        assert r.status_code == 207
        assert "<D:href>/webdav/queuefs/mv/dequeue</D:href>" in r.text
        assert "403 Forbidden" in r.text
        assert api.get("/files", params={"path": "/queuefs/mv/size"}).text.strip() == "1"
        assert api.get("/files", params={"path": "/queuefs/mv/dequeue"}).json()["data"] == (
            "still here"
        )
    finally:
        api.delete("/directories", params={"path": "/queuefs/mv", "recursive": "true"})
        api.delete("/directories", params={"path": "/memfs/mv", "recursive": "true"})


def test_unknown_method_is_405_with_allow(dav):
    r = dav.request("PATCH", "/memfs")
    assert r.status_code == 405 and "PROPFIND" in r.headers["allow"]


# -- auth and configuration ---------------------------------------------------------------------


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"user:{token}".encode()).decode()}


def test_auth_tokens_as_basic_password_or_bearer(start_server):
    proc = start_server(
        {
            "server": {"auth": {"tokens": [{"token": "r-token", "role": "read"},
                                           {"token": "w-token", "role": "write"}]}},
            "plugins": {"memfs": {"enabled": True, "path": "/memfs"}},
        }
    )
    url = proc.url + "/webdav/memfs/f"
    anonymous = httpx.request("PROPFIND", url, headers={"Depth": "0"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.put(url, content=b"x", headers=_basic("wrong")).status_code == 401
    assert httpx.put(url, content=b"x", headers=_basic("r-token")).status_code == 403
    assert httpx.put(url, content=b"x", headers=_basic("w-token")).status_code == 201
    assert httpx.get(url, headers=_basic("r-token")).content == b"x"
    bearer = {"Authorization": "Bearer w-token"}
    assert httpx.delete(url, headers=bearer).status_code == 204


def test_webdav_can_be_switched_off_or_moved(start_server):
    off = start_server({"server": {"webdav": {"enabled": False}}})
    assert httpx.request("PROPFIND", off.url + "/webdav/", headers={"Depth": "0"}).status_code \
        == 404
    moved = start_server({"server": {"webdav": {"prefix": "/dav/"}}})
    assert httpx.request("PROPFIND", moved.url + "/dav/", headers={"Depth": "0"}).status_code \
        == 207
    assert httpx.get(moved.url + "/webdav/").status_code == 404


@pytest.mark.parametrize(
    "value", ["yes", {"prefix": "/"}, {"prefix": "dav"}, {"prefix": "/api/v1/x"},
              {"prefix": "/a/../b"}, {"enabled": "no"}, {"port": 1}]
)
def test_bad_webdav_config_is_refused(value):
    with pytest.raises(ConfigError, match="server.webdav"):
        settings_from_dict({"server": {"webdav": value}}, builtin_registry())


def test_server_with_webdav_config_starts():
    with ServerProcess({"server": {"webdav": True}}) as proc:
        assert httpx.request("OPTIONS", proc.url + "/webdav/").headers["dav"] == "1, 2"


def test_xml_bodies_over_1_mib_are_413(dav, work):
    huge = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' + b" " * (1 << 20)
    assert propfind(dav, work, "0", huge).status_code == 413


def test_dead_properties_are_bounded_507(start_server):
    proc = start_server({"plugins": {"memfs": {"enabled": True, "path": "/memfs"}}})
    url = proc.url + "/webdav/memfs/f"
    assert httpx.put(url, content=b"x").status_code == 201
    statuses = []
    for i in range(17):  # ~1 MB each: the 17th passes the 16 MiB bound
        body = (f'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
                f"<Z:p{i}>{'v' * 1_000_000}</Z:p{i}></D:prop></D:set></D:propertyupdate>")
        statuses.append(httpx.request("PROPPATCH", url, content=body.encode()).status_code)
    assert statuses == [207] * 16 + [507]
    asked = b'<D:propfind xmlns:D="DAV:"><D:prop><Z:p16 xmlns:Z="urn:z"/></D:prop></D:propfind>'
    r = httpx.request("PROPFIND", url, headers={"Depth": "0"}, content=asked)
    assert "404 Not Found" in r.text
