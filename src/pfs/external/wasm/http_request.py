"""``env.host_http_request`` (AGFS.md §7.3): an HTTP request on a guest's behalf, only to the hosts
the calling mount allows (``http_allowed_hosts``; none by default), with a bounded response body
and a timeout no longer than a guest call may last. It runs on the instance's thread, never on
the event loop.

Request (NUL-terminated JSON): ``{"method", "url", "headers": {str: str}, "body": [bytes] or
base64, "timeout": seconds}``. Response (JSON): ``{"status_code", "headers": {name: first value},
"body": base64, "error"?}``; every failure is a response with ``error`` set and status 0.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

#: Mount-config key naming the hosts a plugin's ``host_http_request`` may reach.
HTTP_HOSTS_KEY = "http_allowed_hosts"
#: The guest's default timeout when it sends none (AGFS: 30 s), before our cap.
DEFAULT_TIMEOUT = 30.0


class RequestRefused(Exception):
    """The guest's request cannot be sent; the text becomes the response's ``error``."""


def _failure(error: str) -> dict[str, Any]:
    return {"status_code": 0, "headers": {}, "body": "", "error": error}


def _body(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise ValueError("body must be an array of byte values or a base64 string")


def _parse(text: str) -> dict[str, Any]:
    try:
        request = json.loads(text)
        if not isinstance(request, dict):
            raise ValueError("expected a JSON object")
        headers = request.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("headers must be an object")
        timeout = request.get("timeout") or 0
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError("timeout must be a number of seconds")
        return {
            "method": str(request.get("method") or "GET").upper(),
            "url": str(request.get("url") or ""),
            "headers": {str(k): str(v) for k, v in headers.items()},
            "body": _body(request.get("body")),
            "timeout": float(timeout) or DEFAULT_TIMEOUT,
        }
    except (ValueError, binascii.Error) as exc:
        raise RequestRefused(f"failed to parse request: {exc}") from None


def allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """Whether ``url``'s host is in ``hosts`` (``name`` matches any port, ``name:port`` one)."""
    parts = urlsplit(url)
    name = (parts.hostname or "").lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return False
    for entry in hosts:
        entry = entry.lower()
        if entry == name or entry == f"{name}:{port}" or entry == f"[{name}]:{port}":
            return True
    return False


def perform(
    text: str, hosts: tuple[str, ...], max_timeout: float, max_bytes: int
) -> dict[str, Any]:
    """Carry out one guest request (blocking); the response object for the guest."""
    try:
        request = _parse(text)
        url = request["url"]
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise RequestRefused(f"failed to create request: unsupported URL {url!r}")
        if not allowed(url, hosts):
            raise RequestRefused(
                f"request failed: host of {url} is not in this mount's {HTTP_HOSTS_KEY} "
                f"({', '.join(hosts) or 'none'})"
            )
        return _send(request, min(request["timeout"], max_timeout), max_bytes)
    except RequestRefused as exc:
        return _failure(str(exc))


def _send(request: dict[str, Any], timeout: float, max_bytes: int) -> dict[str, Any]:
    # No redirects: an allowed host must not hand the guest on to one that is not.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        try:
            with client.stream(
                request["method"],
                request["url"],
                headers=request["headers"],
                content=request["body"] or None,
            ) as response:
                body = bytearray()
                try:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise RequestRefused(
                                "failed to read response body: it exceeds the limit of "
                                f"{max_bytes} bytes (external_plugins.wasm.http_max_response)"
                            )
                except httpx.HTTPError as exc:
                    raise RequestRefused(f"failed to read response body: {exc}") from None
                headers: dict[str, str] = {}
                for name, value in response.headers.multi_items():
                    headers.setdefault(name, value)
                return {
                    "status_code": response.status_code,
                    "headers": headers,
                    "body": base64.b64encode(bytes(body)).decode(),
                }
        except httpx.InvalidURL as exc:
            raise RequestRefused(f"failed to create request: {exc}") from None
        except httpx.HTTPError as exc:
            raise RequestRefused(f"request failed: {exc or type(exc).__name__}") from None
