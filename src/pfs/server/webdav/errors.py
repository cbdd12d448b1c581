"""The answers WebDAV adds to the error tree of pfs.fs.errors (RFC 4918 statuses)."""

from __future__ import annotations

from pfs.fs.errors import FSError


class Locked(FSError):
    """The resource is locked and the request did not submit the lock's token."""

    status = 423


class MethodNotAllowed(FSError):
    """MKCOL on an existing resource, PUT on a collection."""

    status = 405


class UnsupportedMediaType(FSError):
    """A MKCOL with a body (RFC 4918 §9.3.1)."""

    status = 415


class Conflict(FSError):
    """The parent collection of the target does not exist."""

    status = 409
