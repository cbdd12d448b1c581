"""The certificate and key files a server serves HTTPS with, checked before it starts: the API
(``server.tls``) and httpfs (``tls_cert``/``tls_key``) both read them through here."""

from __future__ import annotations

import ssl
from pathlib import Path


class BadTLSFiles(ValueError):
    """A certificate or key that cannot serve; ``which`` is ``cert``, ``key`` or ``""`` (the
    two do not belong together)."""

    def __init__(self, which: str, message: str) -> None:
        super().__init__(message)
        self.which = which


def check_pair(cert: str, key: str) -> None:
    """Raise :class:`BadTLSFiles` unless ``cert`` (a PEM certificate chain) and ``key`` (its PEM
    private key) can be read and go together."""
    for which, path, marker, what in (
        ("cert", cert, b"-----BEGIN CERTIFICATE-----", "certificate"),
        ("key", key, b"PRIVATE KEY-----", "private key"),
    ):
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise BadTLSFiles(which, f"cannot read {path}: {exc.strerror}") from None
        if marker not in text:
            raise BadTLSFiles(which, f"{path} holds no PEM {what}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise BadTLSFiles(
            "", f"the key {key} does not go with the certificate {cert} ({exc.reason or exc})"
        ) from None
