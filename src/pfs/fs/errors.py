"""The one error tree of PFS.

    FSError                      500  EIO      (anything a plugin did not classify)
     ├── NotFound                404  ENOENT
     ├── AlreadyExists           409  EEXIST
     ├── NotADirectory           400  ENOTDIR
     ├── IsADirectory            400  EISDIR
     ├── NotEmpty                409  ENOTEMPTY
     ├── PermissionDenied        403  EACCES
     │    └── ReadOnly           403  EROFS
     ├── InvalidArgument         400  EINVAL
     ├── NotSupported            501  ENOTSUP
     ├── CrossMount              400  EXDEV
     ├── TooLarge                413  EFBIG
     ├── RequestTimeout          408  ETIMEDOUT (the client stopped sending the request body)
     ├── Unavailable             503  EAGAIN   (a backend is down or busy)
     │    └── Timeout            504  ETIMEDOUT
     └── BadGateway              502  EIO      (a remote PFS or service answered wrongly)

Each class carries its HTTP status and errno; the server, FUSE and fsspec all read these columns
instead of keeping their own mapping. The message is the text clients show verbatim, so plugins
keep the original server's wording (``no such file or directory: /a``).
"""

from __future__ import annotations

import errno as _errno


class FSError(Exception):
    """Base of every PFS error; untyped plugin failures are reported as this (500)."""

    status = 500
    errno = _errno.EIO

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(FSError):
    status = 404
    errno = _errno.ENOENT


class AlreadyExists(FSError):
    status = 409
    errno = _errno.EEXIST


class NotADirectory(FSError):
    status = 400
    errno = _errno.ENOTDIR


class IsADirectory(FSError):
    status = 400
    errno = _errno.EISDIR


class NotEmpty(FSError):
    status = 409
    errno = _errno.ENOTEMPTY


class PermissionDenied(FSError):
    status = 403
    errno = _errno.EACCES


class ReadOnly(PermissionDenied):
    errno = _errno.EROFS


class InvalidArgument(FSError):
    status = 400
    errno = _errno.EINVAL


class NotSupported(FSError):
    status = 501
    errno = _errno.ENOTSUP


class CrossMount(FSError):
    status = 400
    errno = _errno.EXDEV


class TooLarge(FSError):
    status = 413
    errno = _errno.EFBIG


class RequestTimeout(FSError):
    status = 408
    errno = _errno.ETIMEDOUT


class Unavailable(FSError):
    status = 503
    errno = _errno.EAGAIN


class Timeout(Unavailable):
    status = 504
    errno = _errno.ETIMEDOUT


class BadGateway(FSError):
    status = 502
    errno = _errno.EIO


_BY_STATUS: dict[int, type[FSError]] = {
    404: NotFound,
    409: AlreadyExists,
    403: PermissionDenied,
    400: InvalidArgument,
    501: NotSupported,
    413: TooLarge,
    408: RequestTimeout,
    503: Unavailable,
    504: Timeout,
    502: BadGateway,
}


_BY_KIND: dict[str, type[FSError]] = {
    cls.__name__: cls
    for cls in (FSError, NotFound, AlreadyExists, NotADirectory, IsADirectory, NotEmpty,
                PermissionDenied, ReadOnly, InvalidArgument, NotSupported, CrossMount, TooLarge,
                RequestTimeout, Unavailable, Timeout, BadGateway)
}


def error_kind(exc: FSError) -> str:
    """The name of the most specific class of this tree ``exc`` is (sent as ``kind`` on the wire,
    so clients can tell NotEmpty from AlreadyExists although both are 409)."""
    for cls in type(exc).__mro__:
        if _BY_KIND.get(cls.__name__) is cls:
            return cls.__name__
    return "FSError"


def error_for_status(status: int, message: str, kind: str | None = None) -> FSError:
    """The error an HTTP answer stands for: by its ``kind`` when given, else by its status."""
    cls = _BY_KIND.get(kind) if kind else None
    if cls is None:
        cls = _BY_STATUS.get(status, FSError)
    return cls(message)


__all__ = [
    "AlreadyExists",
    "BadGateway",
    "CrossMount",
    "FSError",
    "InvalidArgument",
    "IsADirectory",
    "NotADirectory",
    "NotEmpty",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "ReadOnly",
    "RequestTimeout",
    "TooLarge",
    "Timeout",
    "Unavailable",
    "error_for_status",
    "error_kind",
]
