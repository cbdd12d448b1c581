"""The one error tree of PFS.

    FSError                      500  EIO      (anything a plugin did not classify)
     ├── NotFound                404  ENOENT
     ├── AlreadyExists           409  EEXIST
     │    └── MountExists        409  EEXIST   (a taken mount point; sent as AlreadyExists)
     ├── NotADirectory           400  ENOTDIR
     ├── IsADirectory            400  EISDIR
     ├── NotEmpty                409  ENOTEMPTY
     ├── PermissionDenied        403  EACCES
     │    └── ReadOnly           403  EROFS
     ├── InvalidArgument         400  EINVAL
     │    └── SymlinkLoop        400  ELOOP    (more than 10 links on one path, or a loop)
     ├── NotSupported            501  ENOTSUP
     ├── CrossMount              400  EXDEV
     ├── TooLarge                413  EFBIG
     ├── InsufficientStorage     507  ENOSPC   (the back end is out of space)
     ├── RequestTimeout          408  ETIMEDOUT (the client stopped sending the request body)
     ├── PreconditionFailed      412  EAGAIN   (a conditional change met a file that changed)
     ├── Unavailable             503  EAGAIN   (a backend is down or busy)
     │    └── Timeout            504  ETIMEDOUT
     └── BadGateway              502  EIO      (a remote PFS or service answered wrongly)

Each class carries its HTTP status and errno; the server, FUSE and fsspec all read these columns
instead of keeping their own mapping. The message is the text clients show verbatim.

Plugins raise with their mount-relative path; the mount table re-raises every error with
:meth:`FSError.at`, which names the full path the client sent. The kinds that say everything by
themselves (``summary``: not found, exists, not a directory, is a directory, not empty) then read
the same from every plugin (``no such file or directory: /memfs/a``); the others keep the
plugin's explanation after the full path.
"""

from __future__ import annotations

import copy
import errno as _errno


class FSError(Exception):
    """Base of every PFS error; untyped plugin failures are reported as this (500)."""

    status = 500
    errno = _errno.EIO
    #: The one wording of this kind, for kinds whose name says it all; None keeps the message.
    summary: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def at(self, path: str) -> FSError:
        """A copy of this error located at the full namespace ``path``, with the message the
        module docstring describes; raise it ``from`` this one to keep the plugin's traceback."""
        if self.summary is not None:
            message = f"{self.summary}: {path}"
        elif path in self.message:
            message = self.message
        else:
            message = f"{path}: {self.message}"
        return self._reworded(message)

    def with_context(self, context: str) -> FSError:
        """A copy of this error (same class: same status and kind) whose message starts with
        ``context`` (``failed to calculate digest: ...``); raise it ``from`` this one."""
        return self._reworded(f"{context}: {self.message}")

    def _reworded(self, message: str) -> FSError:
        copied = copy.copy(self)
        copied.message = message
        copied.args = (message,)
        return copied


class NotFound(FSError):
    status = 404
    errno = _errno.ENOENT
    summary = "no such file or directory"


class AlreadyExists(FSError):
    status = 409
    errno = _errno.EEXIST
    summary = "file already exists"


class MountExists(AlreadyExists):
    """A mount point that is taken (sent as kind ``AlreadyExists``: a server-side distinction)."""


class NotADirectory(FSError):
    status = 400
    errno = _errno.ENOTDIR
    summary = "not a directory"


class IsADirectory(FSError):
    status = 400
    errno = _errno.EISDIR
    summary = "is a directory"


class NotEmpty(FSError):
    status = 409
    errno = _errno.ENOTEMPTY
    summary = "directory not empty"


class PermissionDenied(FSError):
    status = 403
    errno = _errno.EACCES


class ReadOnly(PermissionDenied):
    errno = _errno.EROFS


class InvalidArgument(FSError):
    status = 400
    errno = _errno.EINVAL


class SymlinkLoop(InvalidArgument):
    errno = _errno.ELOOP


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


class PreconditionFailed(FSError):
    """A conditional write or remove (If-Match, If-Unmodified-Since, If-None-Match) found the
    file in another state than the caller expected: nothing was changed."""

    status = 412
    errno = _errno.EAGAIN


class InsufficientStorage(FSError):
    status = 507
    errno = _errno.ENOSPC


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
    507: InsufficientStorage,
    408: RequestTimeout,
    412: PreconditionFailed,
    503: Unavailable,
    504: Timeout,
    502: BadGateway,
}


_BY_KIND: dict[str, type[FSError]] = {
    cls.__name__: cls
    for cls in (FSError, NotFound, AlreadyExists, NotADirectory, IsADirectory, NotEmpty,
                PermissionDenied, ReadOnly, InvalidArgument, SymlinkLoop, NotSupported,
                CrossMount, TooLarge,
                InsufficientStorage,
                RequestTimeout, PreconditionFailed, Unavailable, Timeout, BadGateway)
}


#: The class a plugin's errno stands for (external plugins may report one with a failure).
#: ETIMEDOUT is Timeout: a plugin timing out waits on its back end (RequestTimeout is a client
#: that stopped sending, which no plugin sees); EIO is the untyped FSError.
_BY_ERRNO: dict[int, type[FSError]] = {
    cls.errno: cls
    for cls in (NotFound, AlreadyExists, NotADirectory, IsADirectory, NotEmpty, PermissionDenied,
                ReadOnly, InvalidArgument, NotSupported, CrossMount, TooLarge, InsufficientStorage,
                Unavailable, Timeout)
}


def error_for_errno(code: int, message: str) -> FSError:
    """The error a plugin's ``errno`` stands for; 0 or an errno outside the tree is an untyped
    FSError (500)."""
    return _BY_ERRNO.get(code, FSError)(message)


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
    "InsufficientStorage",
    "InvalidArgument",
    "IsADirectory",
    "MountExists",
    "NotADirectory",
    "NotEmpty",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "PreconditionFailed",
    "ReadOnly",
    "RequestTimeout",
    "SymlinkLoop",
    "TooLarge",
    "Timeout",
    "Unavailable",
    "error_for_errno",
    "error_for_status",
    "error_kind",
]
