"""The OpenAPI document describes the real API: schemathesis against the live server finds no
server errors and no response that violates the document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from pfs.testing.server import ServerProcess

CHECKS = ",".join([
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
])


def test_openapi_document_and_docs_page(server):
    doc = httpx.get(server.api + "/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/files", "/api/v1/mount", "/api/v1/health"} <= set(doc["paths"])
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/api/v1/directories" in page.text


def test_schemathesis_finds_no_violations():
    config = {"plugins": {"memfs": {"enabled": True, "path": "/memfs",
                                    "config": {"init_dirs": ["/a", "/a/b"]}}}}
    with ServerProcess(config) as srv:
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [str(st), "run", srv.api + "/openapi.json", "--checks", CHECKS,
             "--max-examples", "25", "--phases", "examples,coverage,fuzzing",
             "--generation-deterministic", "--no-color"],
            capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert srv.proc.poll() is None, "the server survived the fuzzing"
