"""The OpenAPI 3.1 document of the real API and a self-contained HTML page that renders it."""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from pfs import __version__
from pfs.http.requests import Request
from pfs.http.responses import Response, json_bytes
from pfs.server.state import State

_ERR = {"$ref": "#/components/responses/Error"}
_MSG = {"$ref": "#/components/responses/Message"}


def _q(name: str, desc: str, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "description": desc,
            "schema": schema or {"type": "string"}}


_PATH_Q = _q("path", "Absolute PFS path", True, {"type": "string", "minLength": 1})
_RECURSIVE_Q = _q("recursive", "`true` removes a whole subtree", False,
                  {"type": "string", "enum": ["true", "false"]})


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _obj(props: dict, required: list[str] | None = None) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _errors(*codes: int) -> dict:
    return {str(code): _ERR for code in codes}


_COMMON = (400, 401, 403, 404, 409, 413, 500, 501, 502, 503, 504)


def _op(summary: str, params: list, responses: dict, body: dict | None = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "parameters": params,
                          "responses": {**responses, **_errors(*_COMMON)}}
    if body is not None:
        op["requestBody"] = body
    return op


@cache
def openapi_document() -> dict[str, Any]:
    octet = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    file_info = {"$ref": "#/components/schemas/FileInfo"}
    delete_op = _op("Remove a file or directory", [_PATH_Q, _RECURSIVE_Q],
                    {"200": _MSG, "412": _ERR})
    health = {"application/json": {"schema": _obj({
        "status": {"type": "string", "enum": ["healthy", "starting", "degraded"]},
        "version": {"type": "string"}, "gitCommit": {"type": "string"},
        "buildTime": {"type": "string"}, "ready": {"type": "boolean"},
        "degraded": {"type": "boolean"},
        "mounts": _obj({key: {"type": "integer"}
                        for key in ("total", "pending", "mounted", "failed")})},
        ["status", "version"])}}
    paths: dict[str, Any] = {
        "/api/v1/health": {"get": {"summary": "Server health, version and start-up mounts",
                                   "security": [], "responses": {"200": {
                                       "description": "always", "content": health}}}},
        "/api/v1/ready": {"get": {"summary": "200 once every configured mount is mounted",
                                  "security": [], "responses": {
                                      "200": {"description": "ready", "content": health},
                                      "503": {"description": "a mount is pending or failed",
                                              "content": health}}}},
        "/api/v1/version": {"get": {"summary": "Build of the server", "security": [],
                                    "responses": {"200": {"description": "version", "content": {
                                        "application/json": {"schema": _obj({
                                            key: {"type": "string"} for key in
                                            ("buildTime", "gitCommit", "version")})}}}}}},
        "/api/v1/capabilities": {"get": _op(
            "Server features; with path, what the plugin serving it can do there",
            [_q("path", "A path to ask about (optional)")],
            {"200": {"description": "capabilities", "content": {"application/json": {
                "schema": _obj({"version": {"type": "string"},
                                "features": {"type": "array", "items": {"type": "string"}}},
                               ["version", "features"])}}}})},
        "/api/v1/files": {
            "get": _op("Read a file (raw bytes); Range supported", [
                _PATH_Q,
                _q("offset", "Start byte", schema={"type": "integer", "minimum": 0}),
                _q("size", "Bytes to read; negative = to the end", schema={"type": "integer"}),
                _q("stream", "`true`: chunked live stream", schema={
                    "type": "string", "enum": ["true", "false"]}),
            ], {"200": {"description": "file bytes (ETag, Last-Modified)", "content": octet},
                "206": {"description": "partial content", "content": octet},
                "304": {"description": "not modified (If-None-Match, If-Modified-Since)"},
                "412": _ERR, "416": _ERR}),
            "head": _op("A read's headers from stat (ETag, Last-Modified, Content-Length)",
                        [_PATH_Q], {"200": {"description": "headers only"},
                                    "304": {"description": "not modified"}, "412": _ERR}),
            "put": _op("Write a file (raw body); offset/flags for random access", [
                _PATH_Q,
                _q("offset", "Write position", schema={"type": "integer", "minimum": 0}),
                _q("flags", "Comma list of append, create, exclusive, truncate"),
            ], {"200": _MSG, "412": _ERR}, {"required": False, "content": octet}),
            "post": _op("Create an empty file", [_PATH_Q], {"201": _MSG}),
            "delete": delete_op,
        },
        "/api/v1/directories": {
            "get": _op("List a directory", [_q("path", "Directory (default /)")], {"200": {
                "description": "entries", "content": {"application/json": {"schema": _obj({
                    "files": {"type": ["array", "null"], "items": file_info}}, ["files"])}}}}),
            "post": _op("Create a directory", [
                _PATH_Q, _q("mode", "Octal permission bits, e.g. 755",
                            schema={"type": "string", "pattern": "^[0-7]{1,4}$"})],
                {"201": _MSG}),
            "delete": delete_op,
        },
        "/api/v1/write": {"post": _op("AGFS alias of PUT /files; a JSON body is {data}", [
            _PATH_Q], {"200": _MSG}, {"required": False, "content": {
                **octet, "application/json": {"schema": _obj({"data": {"type": "string"}},
                                                             ["data"])}}})},
        "/api/v1/stat": {"get": _op("Stat a path", [_PATH_Q], {"200": {
            "description": "file info", "content": {"application/json": {"schema": file_info}}}})},
        "/api/v1/rename": {"post": _op("Rename within one mount", [_PATH_Q], {"200": _MSG},
                                       _json_body(_obj({"newPath": {"type": "string"}},
                                                       ["newPath"])))},
        "/api/v1/copy": {"post": _op(
            "Copy a file or (recursive) a tree on the server, within or across mounts", [],
            {"200": {"description": "what was copied", "content": {"application/json": {
                "schema": _obj({"message": {"type": "string"}, "files": {"type": "integer"},
                                "bytes": {"type": "integer"},
                                "skipped": {"type": "array", "items": {"type": "string"}},
                                "skippedCount": {"type": "integer"}},
                               ["message", "files", "bytes"])}}}},
            _json_body(_obj({"path": {"type": "string", "minLength": 1},
                             "newPath": {"type": "string", "minLength": 1},
                             "recursive": {"type": "boolean"}}, ["path", "newPath"])))},
        "/api/v1/chmod": {"post": _op("Change permission bits", [_PATH_Q], {"200": _MSG},
                                      _json_body(_obj({"mode": {
                                          "type": "integer", "minimum": 0,
                                          "maximum": 4294967295}})))},
        "/api/v1/touch": {"post": _op("Set mtime (default: now); create if missing", [
            _PATH_Q, _q("mtime", "Unix seconds, integer or decimal fraction",
                        schema={"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"})],
            {"200": _MSG})},
        "/api/v1/truncate": {"post": _op("Cut a file to size bytes or extend it with zeros", [
            _PATH_Q, _q("size", "New size in bytes", True, {"type": "integer", "minimum": 0})],
            {"200": _MSG})},
        "/api/v1/symlink": {"post": _op("Make a symbolic link at path", [_PATH_Q], {"201": _MSG},
                                        _json_body(_obj({"target": {"type": "string"}},
                                                        ["target"])))},
        "/api/v1/readlink": {"get": _op("Read a symbolic link's target", [_PATH_Q], {"200": {
            "description": "target", "content": {"application/json": {"schema": _obj({
                "target": {"type": "string"}}, ["target"])}}}})},
        "/api/v1/grep": {"post": _op("Search file contents (RE2)", [], {"200": {
            "description": "matches (NDJSON when stream=true)", "content": {
                "application/json": {"schema": _obj({
                    "matches": {"type": ["array", "null"], "items": _obj({
                        "file": {"type": "string"}, "line": {"type": "integer"},
                        "content": {"type": "string"}})},
                    "count": {"type": "integer"}, "truncated": {"type": "boolean"}},
                    ["count"])},
                "application/x-ndjson": {"schema": {"type": "string"}}}}},
            _json_body(_obj({
                "path": {"type": "string"}, "pattern": {"type": "string"},
                "recursive": {"type": "boolean"}, "case_insensitive": {"type": "boolean"},
                "stream": {"type": "boolean"}, "limit": {"type": "integer"}},
                ["path", "pattern"])))},
        "/api/v1/digest": {"post": _op("Hash a file (xxh3 or md5)", [], {"200": {
            "description": "digest", "content": {"application/json": {"schema": _obj({
                "algorithm": {"type": "string"}, "path": {"type": "string"},
                "digest": {"type": "string"}}, ["algorithm", "path", "digest"])}}}},
            _json_body(_obj({"algorithm": {"type": "string", "enum": ["xxh3", "md5"]},
                             "path": {"type": "string"}}, ["path"])))},
        "/api/v1/mounts": {"get": _op("List mounts", [], {"200": {
            "description": "mounts", "content": {"application/json": {"schema": _obj({
                "mounts": {"type": ["array", "null"], "items": _obj({
                    "path": {"type": "string"}, "pluginName": {"type": "string"},
                    "instance": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "mounted", "failed"]},
                    "error": {"type": "string"}, "config": {"type": "object"}},
                    ["path", "pluginName", "status"])}}, ["mounts"])}}}})},
        "/api/v1/mount": {"post": _op("Mount a plugin", [], {"200": _MSG}, _json_body(_obj({
            "fstype": {"type": "string"}, "path": {"type": "string"},
            "config": {"type": ["object", "null"]}}, ["fstype", "path"])))},
        "/api/v1/unmount": {"post": _op("Unmount", [], {"200": _MSG},
                                        _json_body(_obj({"path": {"type": "string"}}, ["path"])))},
        "/api/v1/plugins": {"get": _op(
            "Loaded external plugins; format=agfs: every plugin (AGFS's shape)",
            [_q("format", "pfs (default): loaded_plugins; agfs: plugins", schema={
                "type": "string", "enum": ["pfs", "agfs"]})],
            {"200": {"description": "plugins", "content": {"application/json": {"schema": {
                "oneOf": [
                    _obj({"loaded_plugins": {"type": "array", "items": {"type": "string"}}},
                         ["loaded_plugins"]),
                    _obj({"plugins": {"type": "array", "items": _obj({
                        "name": {"type": "string"}, "library_path": {"type": "string"},
                        "is_external": {"type": "boolean"},
                        "mounted_paths": {"type": ["array", "null"]},
                        "config_params": {"type": "array"}},
                        ["name", "is_external", "mounted_paths"])}}, ["plugins"]),
                ]}}}}})},
        "/api/v1/plugins/load": {"post": _op("Load a native or WASM plugin", [], {"200": {
            "description": "loaded", "content": {"application/json": {"schema": _obj({
                "message": {"type": "string"}, "plugin_name": {"type": "string"},
                "original_name": {"type": "string"}, "renamed": {"type": "boolean"}},
                ["message"])}}}},
            _json_body(_obj({"library_path": {"type": "string"}, "abi": {
                "type": "string", "enum": ["auto", "pfs", "agfs"],
                "description": "a native library's FSWrite ABI (default auto)"}},
                ["library_path"])))},
        "/api/v1/plugins/unload": {"post": _op("Unload an external plugin", [], {"200": _MSG},
                                               _json_body(_obj({"library_path": {
                                                   "type": "string"}}, ["library_path"])))},
    }
    paths["/api/v1/mkdir"] = {"post": paths["/api/v1/directories"]["post"]}
    paths["/api/v1/list"] = {"get": paths["/api/v1/directories"]["get"]}
    paths.update(_handle_paths(octet, file_info))
    return {
        "openapi": "3.1.0",
        "info": {"title": "PFS API", "version": __version__,
                 "description": "Every service is a file: one HTTP API over mounted plugins."},
        "paths": paths,
        "security": [{"bearer": []}, {}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"FileInfo": _obj({
                "name": {"type": "string"}, "size": {"type": "integer"},
                "mode": {"type": "integer"}, "modTime": {"type": "string"},
                "isDir": {"type": "boolean"},
                "meta": _obj({"Name": {"type": "string"}, "Type": {"type": "string"},
                              "Content": {"type": ["object", "null"],
                                          "additionalProperties": {"type": "string"}}},
                             ["Name", "Type", "Content"])},
                ["name", "size", "mode", "modTime", "isDir", "meta"])},
            "responses": {
                "Error": {"description": "error", "headers": {"X-PFS-Error-Kind": {
                    "description": "the error's class, e.g. NotFound, NotEmpty, AlreadyExists",
                    "schema": {"type": "string"}}}, "content": {"application/json": {
                    "schema": _obj({"error": {"type": "string"}}, ["error"])}}},
                "Message": {"description": "done", "content": {"application/json": {
                    "schema": _obj({"message": {"type": "string"}}, ["message"])}}},
            },
        },
    }


def _handle_paths(octet: dict, file_info: dict) -> dict[str, Any]:
    """The handle API (``/api/v1/handles``); the 301 of ``/handles`` is left out."""
    integer = {"type": "integer"}
    id_param = {"name": "id", "in": "path", "required": True, "description": "handle id",
                "schema": {"type": "integer", "minimum": 0}}
    lease = {"type": "integer", "minimum": 1, "maximum": 3600}
    info_props = {"handle_id": integer, "path": {"type": "string"}, "flags": integer,
                  "lease": integer, "expires_at": {"type": "string"}}
    info = _obj({**info_props, "created_at": {"type": "string"},
                 "last_access": {"type": "string"}, "position": integer},
                ["handle_id", "path", "flags", "lease", "expires_at"])

    def answer(description: str, schema: dict) -> dict:
        return {"200": {"description": description,
                        "content": {"application/json": {"schema": schema}}}}

    def op(summary: str, params: list, responses: dict, body: dict | None = None) -> dict:
        return _op(summary, [id_param, *params], responses, body)

    base = "/api/v1/handles/"
    return {
        base + "open": {"post": _op("Open a file as a handle with a position and a lease", [
            _PATH_Q,
            _q("flags", "Bitmask: 0 read, 1 write, 2 read-write; +8 append, +16 create, "
                        "+32 excl, +64 trunc", schema={"type": "integer", "minimum": 0}),
            _q("mode", "Octal mode of a created file (default 644)",
               schema={"type": "string", "pattern": "^[0-7]{1,4}$"}),
            _q("lease", "Idle seconds before the handle closes (default 60)", schema=lease),
        ], answer("opened", _obj(info_props, list(info_props))))},
        base: {"get": _op("List open handles", [], answer("handles", _obj({
            "handles": {"type": "array", "items": info}, "count": integer, "max": integer},
            ["handles", "count", "max"])))},
        base + "{id}": {
            "get": op("A handle's info", [], answer("info", info)),
            "delete": op("Close a handle", [], {"200": _MSG}),
        },
        base + "{id}/read": {"get": op("Read at the position (or at offset: pread)", [
            _q("size", "Bytes (default 4096; negative: 1 MiB; at most 16 MiB)", schema=integer),
            _q("offset", "Read here; the position stays", schema={
                "type": "integer", "minimum": 0}),
        ], {"200": {"description": "bytes", "content": octet}})},
        base + "{id}/write": {"put": op("Write at the position (or at offset: pwrite)", [
            _q("offset", "Write here; the position stays", schema={
                "type": "integer", "minimum": 0}),
        ], answer("written", _obj({"bytes_written": integer, "position": integer},
                                  ["bytes_written", "position"])),
            {"required": False, "content": octet})},
        base + "{id}/seek": {"post": op("Move the position", [
            _q("offset", "Bytes from whence", True, integer),
            _q("whence", "0 start, 1 current, 2 end", schema={"type": "integer",
                                                              "enum": [0, 1, 2]}),
        ], answer("position", _obj({"position": integer, "offset": integer}, ["position"])))},
        base + "{id}/sync": {"post": op("Make written data durable", [], {"200": _MSG})},
        base + "{id}/stat": {"get": op("Stat the handle's file", [], answer("info", file_info))},
        base + "{id}/stream": {"get": op("The bytes from the position on, chunked", [], {
            "200": {"description": "bytes", "content": octet}})},
        base + "{id}/renew": {"post": op("Start the lease over (optionally a new one)", [
            _q("lease", "Seconds", schema=lease),
        ], answer("renewed", _obj({"handle_id": integer, "lease": integer,
                                   "expires_at": {"type": "string"}}, ["handle_id", "lease"])))},
        base + "{id}/truncate": {"post": op("Cut or zero-extend the file", [
            _q("size", "Bytes", True, {"type": "integer", "minimum": 0}),
        ], {"200": _MSG})},
    }


async def openapi(state: State, req: Request) -> Response:
    return Response(200, json_bytes(openapi_document()))


@cache
def _page() -> bytes:
    doc = openapi_document()
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = ", ".join(p["name"] for p in op.get("parameters", []))
            body = op.get("requestBody", {}).get("content", {})
            schema = body.get("application/json", {}).get("schema", {})
            fields = ", ".join(schema.get("properties", {})) or ("raw bytes" if body else "")
            codes = ", ".join(sorted(c for c in op["responses"] if c.startswith("2")))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op['summary'])}</td><td>{html.escape(params)}</td>"
                f"<td>{html.escape(fields)}</td><td>{codes}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>PFS API</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px}"
        "table{border-collapse:collapse}</style></head><body><h1>PFS API "
        f"{html.escape(__version__)}</h1><p>Machine-readable: "
        "<a href='/api/v1/openapi.json'>/api/v1/openapi.json</a>. Errors are "
        "<code>{\"error\": \"message\"}</code> with the status of their kind.</p><table><tr>"
        "<th>Method</th><th>Path</th><th>What</th><th>Query</th><th>Body</th><th>Success</th>"
        "</tr>" + "".join(rows) + "</table></body></html>"
    ).encode()


async def page(state: State, req: Request) -> Response:
    return Response(200, _page(), b"text/html; charset=utf-8")
