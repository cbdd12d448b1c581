"""Everything the sync and async clients share that does no I/O.

Each endpoint is described by a :class:`Call` (method, endpoint, query, JSON body, and how to turn
the success body into a Python value); the clients only send calls and hand the answer back here.
Errors of every kind become one of the typed ``pfs.fs.errors`` classes, so callers catch
``NotFound`` the same way whether the error came from a plugin in this process or over HTTP.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx

from pfs.fs.base import CHUNK_SIZE as CHUNK_SIZE  # the server's stream piece, re-exported
from pfs.fs.errors import (
    FSError,
    InvalidArgument,
    NotSupported,
    PermissionDenied,
    Timeout,
    Unavailable,
    error_for_status,
)
from pfs.fs.fileinfo import FileInfo

T = TypeVar("T")

DEFAULT_URL = "http://localhost:8080"
API_PREFIX = "/api/v1"
#: Pieces read from local files for uploads: large enough that per-chunk costs (a thread hop in
#: the async client, a chunk header on the wire) vanish, small enough to keep memory flat.
FILE_CHUNK_SIZE = 1024 * 1024
WRITE_FLAGS = ("append", "create", "exclusive", "truncate")

#: What pypfs said for an error answer that carried no JSON ``error`` text.
_FALLBACK_MESSAGES = {
    404: "No such file or directory",
    403: "Permission denied",
    409: "Resource already exists",
    500: "Internal server error",
    502: "Bad Gateway - backend service unavailable",
}


# FSError's errno is a class constant, OSError's an instance field: mypy sees a clash, but
# FSError comes first in the MRO, so ServerNotRunning.errno is EAGAIN like any Unavailable.
class ServerNotRunning(Unavailable, ConnectionError):  # type: ignore[misc]
    """Nothing answers at the server URL (connection refused or host unreachable)."""


class StallTimeout(Timeout):
    """A streamed answer delivered no bytes within ``stall_timeout`` seconds."""


class TLSError(Unavailable):
    """The TLS handshake failed: the server's certificate is not trusted (give its CA with
    ``verify=`` or ``PFS_CA_BUNDLE``), or one side speaks HTTPS and the other plain HTTP."""


#: A CA bundle (PEM) to check servers' certificates with, instead of the system's.
CA_BUNDLE_ENV = "PFS_CA_BUNDLE"


def tls_verify(verify: ssl.SSLContext | str | bool | None) -> ssl.SSLContext | bool:
    """How httpx checks an ``https://`` server: ``verify`` (a CA bundle's path, a context, True
    for the system's CAs, False for no check), else ``$PFS_CA_BUNDLE``, else the system's CAs."""
    if verify is None:
        verify = os.environ.get(CA_BUNDLE_ENV) or True
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgument(f"CA bundle {verify}: {exc.strerror or exc}") from None
    return verify


class EndpointMissing(NotSupported):
    """The server has no such endpoint (an older PFS, or the original Go server): raised only for
    calls marked ``optional``, whose flow then falls back to the way that works everywhere."""


def resolve_base_url(base_url: str | None) -> str:
    """The API root: argument, else ``PFS_API_URL``, else localhost:8080; ``http://`` put in
    front of a bare ``host:port`` and ``/api/v1`` appended."""
    url = (base_url or os.environ.get("PFS_API_URL") or DEFAULT_URL).rstrip("/")
    if "://" not in url:  # host:port, as people type it
        url = "http://" + url
    if not url.endswith(API_PREFIX):
        url += API_PREFIX
    return url


def call_url(api_url: str, call: Call[Any]) -> httpx.URL:
    """The absolute URL of ``call``, built once: httpx would otherwise re-parse the base URL, the
    endpoint and the parameters on every request (most of the client's time on small requests)."""
    url = api_url + call.endpoint
    if call.params:
        url += "?" + urlencode(call.params, quote_via=quote)
    return httpx.URL(url)


def server_root(api_url: str) -> str:
    """``http://host:port`` of an API root, as shown in messages."""
    return api_url[: -len(API_PREFIX)] if api_url.endswith(API_PREFIX) else api_url


def auth_headers(token: str | None) -> dict[str, str]:
    token = token if token is not None else os.environ.get("PFS_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(slots=True)
class Call(Generic[T]):
    """One request to the API and how to read its success body."""

    method: str
    endpoint: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    parse: Callable[[bytes], T] = field(kw_only=True)
    #: Request headers (``If-Match``).
    headers: dict[str, str] | None = field(default=None, kw_only=True)
    #: Parse this answer header's value instead of the body (``HEAD``'s ``ETag``).
    from_header: str | None = field(default=None, kw_only=True)
    #: An endpoint servers may lack: its absence raises EndpointMissing, not NotFound.
    optional: bool = field(default=False, kw_only=True)
    #: Seconds the server may hold the answer on purpose (a blocking dequeue), added to the
    #: client's timeout for this call.
    wait: float = field(default=0, kw_only=True)

    def answer(self, response: httpx.Response) -> T:
        """The value of a success ``response`` (whose body has been read)."""
        if self.from_header is not None:
            return self.parse(response.headers.get(self.from_header, "").encode("latin-1"))
        return self.parse(response.content)


@dataclass(slots=True)
class Write:
    """``call`` (a ``PUT /files``) with ``data`` as its body: bytes, str, a binary file or an
    iterable of chunks, which the clients stream chunk by chunk (``_content``)."""

    call: Call[str]
    data: Any
    progress: ProgressCallback | None = None

    @property
    def path(self) -> str:
        return self.call.params["path"]


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else {}
    except ValueError as exc:
        raise FSError(f"invalid JSON from server: {exc}") from None
    if not isinstance(value, dict):
        raise FSError(f"unexpected JSON from server: {body[:200]!r}")
    return value


def _file_infos(body: bytes) -> list[FileInfo]:
    return [FileInfo.from_json(obj) for obj in _json(body).get("files") or []]


def _grep_result(body: bytes) -> dict[str, Any]:
    result = _json(body)
    result["matches"] = result.get("matches") or []
    return result


def octal_mode(mode: str | int) -> str:
    """mkdir's ``mode`` query value: octal text (``"755"``); ints are taken as mode bits."""
    if isinstance(mode, int):
        return format(mode, "o")
    return mode


def read_params(path: str, offset: int = 0, size: int = -1) -> dict[str, str]:
    # Like every original client: offset only when > 0, size only when >= 0.
    params = {"path": path}
    if offset > 0:
        params["offset"] = str(offset)
    if size >= 0:
        params["size"] = str(size)
    return params


def write_params(
    path: str, offset: int | None, flags: Iterable[str] | str | None
) -> dict[str, str]:
    params = {"path": path}
    if offset is not None:
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        params["offset"] = str(offset)
    if flags is not None:
        names = [flags] if isinstance(flags, str) else list(flags)
        unknown = [name for name in names if name not in WRITE_FLAGS]
        if unknown:
            raise ValueError(f"unknown write flag(s) {unknown}; expected {', '.join(WRITE_FLAGS)}")
        params["flags"] = ",".join(names)
    return params


def stream_params(path: str) -> dict[str, str]:
    return {"path": path, "stream": "true"}


def grep_body(
    path: str, pattern: str, recursive: bool, case_insensitive: bool, stream: bool, limit: int = 0
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "path": path,
        "pattern": pattern,
        "recursive": recursive,
        "case_insensitive": case_insensitive,
        "stream": stream,
    }
    if limit > 0:  # sent only when set, like the original SDK
        body["limit"] = limit
    return body


# Per-endpoint calls.  Names follow the client methods.


def health() -> Call[dict[str, Any]]:
    return Call("GET", "/health", parse=_json)


def ls(path: str) -> Call[list[FileInfo]]:
    return Call("GET", "/directories", {"path": path}, parse=_file_infos)


def stat(path: str) -> Call[FileInfo]:
    return Call("GET", "/stat", {"path": path}, parse=lambda body: FileInfo.from_json(_json(body)))


def etag(path: str) -> Call[str]:
    """The file's ETag from ``HEAD /files`` (stat only: the file is not read)."""
    return Call(
        "HEAD", "/files", {"path": path}, parse=lambda raw: raw.decode("latin-1"),
        from_header="etag",
    )


def if_match(tag: str | None) -> dict[str, str] | None:
    return None if tag is None else {"If-Match": tag}


def timeout_of(call: Call[Any], timeout: float) -> httpx.Timeout | None:
    """The timeout of a call the server may hold on purpose; None: the client's own."""
    return httpx.Timeout(timeout + call.wait) if call.wait else None


def take(queue: str, control: str, wait: float) -> Call[dict[str, Any]]:
    """A queue's ``dequeue`` or ``peek`` waiting up to ``wait`` seconds for a message."""
    params = {"path": queue.rstrip("/") + "/" + control, "wait": f"{wait:g}"}
    return Call("GET", "/files", params, parse=_json, wait=wait)


def cat(path: str, offset: int = 0, size: int = -1) -> Call[bytes]:
    return Call("GET", "/files", read_params(path, offset, size), parse=bytes)


def follow(path: str) -> Call[bytes]:
    """Read a live stream as it grows (``?stream=true``); sent streamed, never parsed whole."""
    return Call("GET", "/files", stream_params(path), parse=bytes)


def write(
    path: str,
    data: Any,
    offset: int | None = None,
    flags: Iterable[str] | str | None = None,
    progress: ProgressCallback | None = None,
    tag: str | None = None,
) -> Write:
    """``tag``: write only if the file's ETag is still this (else PreconditionFailed)."""
    return Write(
        Call(
            "PUT",
            "/files",
            write_params(path, offset, flags),
            parse=write_message,
            headers=if_match(tag),
        ),
        data,
        progress,
    )


def create(path: str) -> Call[str]:
    return Call("POST", "/files", {"path": path}, parse=write_message)


def mkdir(path: str, mode: str | int) -> Call[str]:
    return Call(
        "POST", "/directories", {"path": path, "mode": octal_mode(mode)}, parse=write_message
    )


def rm(path: str, recursive: bool, tag: str | None = None) -> Call[str]:
    params = {"path": path}
    if recursive:
        params["recursive"] = "true"
    return Call("DELETE", "/files", params, parse=write_message, headers=if_match(tag))


def server_copy(src: str, dst: str, recursive: bool) -> Call[int]:
    """``POST /copy``: the bytes copied, none through the client; EndpointMissing on servers
    without it."""
    body = {"path": src, "newPath": dst, "recursive": recursive}
    return Call(
        "POST", "/copy", json=body, parse=lambda raw: int(_json(raw).get("bytes", 0)),
        optional=True,
    )


def mv(old: str, new: str) -> Call[str]:
    return Call("POST", "/rename", {"path": old}, {"newPath": new}, parse=write_message)


def chmod(path: str, mode: int) -> Call[str]:
    return Call("POST", "/chmod", {"path": path}, {"mode": int(mode)}, parse=write_message)


def touch(path: str, mtime_ns: int | None) -> Call[str]:
    params = {"path": path}
    if mtime_ns is not None:
        params["mtime"] = unix_seconds(mtime_ns)
    return Call("POST", "/touch", params, parse=write_message)


def truncate(path: str, size: int) -> Call[str]:
    return Call("POST", "/truncate", {"path": path, "size": str(int(size))}, parse=write_message)


def symlink(target: str, link: str) -> Call[str]:
    return Call("POST", "/symlink", {"path": link}, {"target": target}, parse=write_message)


def readlink(link: str) -> Call[str]:
    return Call("GET", "/readlink", {"path": link}, parse=lambda body: str(_json(body)["target"]))


def unix_seconds(ns: int) -> str:
    """Nanoseconds as exact decimal seconds (``-1.5`` s is ``-1.500000000``, not ``-2.5``)."""
    sign = "-" if ns < 0 else ""
    seconds, fraction = divmod(abs(ns), 1_000_000_000)
    return f"{sign}{seconds}.{fraction:09d}"


def mounts() -> Call[list[dict[str, Any]]]:
    return Call("GET", "/mounts", parse=lambda body: _json(body).get("mounts") or [])


def mount(fstype: str, path: str, config: dict[str, Any] | None) -> Call[str]:
    return Call(
        "POST",
        "/mount",
        json={"fstype": fstype, "path": path, "config": config or {}},
        parse=write_message,
    )


def unmount(path: str) -> Call[str]:
    return Call("POST", "/unmount", json={"path": path}, parse=write_message)


def grep(
    path: str, pattern: str, recursive: bool, case_insensitive: bool, limit: int = 0
) -> Call[dict[str, Any]]:
    body = grep_body(path, pattern, recursive, case_insensitive, False, limit)
    return Call("POST", "/grep", json=body, parse=_grep_result)


def watch(path: str, recursive: bool) -> Call[bytes]:
    """The change events under ``path`` as Server-Sent Events, read with :class:`EventReader`."""
    params = {"path": path, "recursive": "true" if recursive else "false"}
    return Call("GET", "/watch", params, parse=bytes)


class EventReader:
    """Server-Sent Events line by line: :meth:`feed` returns each event once its blank line
    arrives, as its JSON data with ``id`` added (comments and unknown fields skipped)."""

    __slots__ = ("_data", "_id")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> dict[str, Any] | None:
        if line:
            field_name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field_name == "data":
                self._data.append(value)
            elif field_name == "id":
                self._id = value
            return None
        data, self._data = self._data, []
        if not data:
            return None
        event: dict[str, Any] = json.loads("\n".join(data))
        if self._id is not None:
            event["id"] = int(self._id)
        return event


def grep_stream(
    path: str, pattern: str, recursive: bool, case_insensitive: bool, limit: int = 0
) -> Call[bytes]:
    """Matches as NDJSON lines, read with ``parse_ndjson_line`` as they arrive."""
    body = grep_body(path, pattern, recursive, case_insensitive, True, limit)
    return Call("POST", "/grep", json=body, parse=bytes)


def digest(path: str, algorithm: str) -> Call[str]:
    body = {"algorithm": algorithm, "path": path}
    return Call("POST", "/digest", json=body, parse=lambda b: _json(b)["digest"])


def plugins() -> Call[list[str]]:
    return Call("GET", "/plugins", parse=lambda body: _json(body).get("loaded_plugins") or [])


def load_plugin(library_path: str) -> Call[dict[str, Any]]:
    return Call("POST", "/plugins/load", json={"library_path": library_path}, parse=_json)


def unload_plugin(library_path: str) -> Call[str]:
    return Call("POST", "/plugins/unload", json={"library_path": library_path}, parse=write_message)


def write_message(body: bytes) -> str:
    """The ``message`` of a success answer (``OK`` when there is none; a queue's message id)."""
    return str(_json(body).get("message", "OK"))


# Errors.


def error_from_response(status: int, body: bytes, kind: str | None = None) -> FSError:
    """The typed error for a non-2xx answer; the server's ``error`` text is kept verbatim and
    its ``X-PFS-Error-Kind`` header, when present, picks the exact class."""
    message = ""
    try:
        obj = json.loads(body)
        if isinstance(obj, dict):
            message = str(obj.get("error") or "")
    except ValueError:
        pass
    if not message:
        message = _FALLBACK_MESSAGES.get(status, f"HTTP error {status}")
    if status == 401:  # missing or wrong token: the caller may not do this
        return PermissionDenied(message)
    return error_for_status(status, message, kind)


def check_response(response: httpx.Response, optional: bool = False) -> None:
    """Raise the typed error for an error answer whose body has been read; for an ``optional``
    endpoint, EndpointMissing when the server has no such endpoint."""
    if response.status_code >= 400:
        kind = response.headers.get("x-pfs-error-kind")
        if optional and kind is None and _endpoint_missing(response):
            raise EndpointMissing(
                f"{response.request.url.path}: not served here (HTTP {response.status_code})"
            )
        raise error_from_response(response.status_code, response.content, kind)


def _endpoint_missing(response: httpx.Response) -> bool:
    """A 405, or a 404 that is no API error (a router's ``404 page not found`` text)."""
    if response.status_code == 405:
        return True
    return response.status_code == 404 and not response.content.lstrip().startswith(b"{")


def translate_transport_error(
    exc: httpx.HTTPError, api_url: str, timeout: float | None, *, streaming: bool = False
) -> FSError:
    """Map an httpx failure to the typed error callers see (raised ``from exc`` by the caller)."""
    tls = _ssl_error(exc)
    if tls is not None:
        return _tls_error(tls, api_url)
    if isinstance(exc, httpx.ConnectError):
        return ServerNotRunning(
            f"Connection refused - server not running at {server_root(api_url)}"
        )
    if isinstance(exc, httpx.ReadTimeout) and streaming:
        return StallTimeout(f"stream stalled: no data received for {timeout}s")
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"Request timeout after {timeout}s")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        host = urlsplit(api_url).netloc
        hint = ""
        if isinstance(exc, httpx.RemoteProtocolError) and api_url.startswith("http://"):
            # A TLS server answers a plain request with a TLS alert, which is no HTTP.
            hint = f" (if the server speaks HTTPS, use https://{host})"
        return Unavailable(f"connection to {host} failed: {exc}{hint}")
    return FSError(str(exc) or type(exc).__name__)


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl`` error under an httpx failure (httpx wraps httpcore's, which wraps it)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo += [e for e in (current.__cause__, current.__context__, *current.args)
                 if isinstance(e, BaseException)]
    return None


def _tls_error(error: ssl.SSLError, api_url: str) -> TLSError:
    host = urlsplit(api_url).netloc
    if isinstance(error, ssl.SSLCertVerificationError):
        return TLSError(
            f"TLS: the certificate of {host} is not trusted ({error.verify_message}); give "
            f"its CA bundle with verify= or ${CA_BUNDLE_ENV}"
        )
    if error.reason == "WRONG_VERSION_NUMBER":
        return TLSError(f"TLS: {host} does not speak HTTPS; use http://{host}")
    return TLSError(f"TLS with {host} failed: {error.reason or error}")


def parse_ndjson_line(line: str) -> dict[str, Any] | None:
    """One streamed grep line; blank or malformed lines are skipped like pypfs did."""
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if "error" in obj and obj.get("type") != "summary":
        raise error_for_status(400, str(obj["error"]))
    return obj


def walkable(entries: Iterable[FileInfo]) -> list[FileInfo]:
    """The entries a recursive walker (download, copy, fsspec find) visits: directories and the
    files it may read. Skipped: files whose read has an effect (a queue's ``dequeue`` would lose a
    message, a live stream never ends) and write-only files (a queue's ``enqueue``: a control
    file to write to, holding nothing to read), and symlinks (a walk never follows one, so a
    loop of links cannot trap it)."""
    return [
        entry
        for entry in entries
        if entry.meta.type != "symlink" and (entry.is_dir or _readable(entry))
    ]


def _readable(info: FileInfo) -> bool:
    write_only = info.mode & 0o222 and not info.mode & 0o444
    return not info.read_effect and not write_only


def join_path(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def parent_dirs(path: str) -> list[str]:
    """``/a/b/c`` → ``["/a", "/a/b"]``: the ancestors to create for ``mkdir -p``-like helpers."""
    parts = [part for part in path.split("/") if part]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def all_dirs(path: str) -> list[str]:
    """``/a/b`` → ``["/a", "/a/b"]``."""
    parts = [part for part in path.split("/") if part]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


ProgressCallback = Callable[[str, int, "int | None"], None]
"""``progress(name, bytes_done, total_bytes_or_None)``, called after every chunk of a transfer."""
