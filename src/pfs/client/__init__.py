"""The PFS Python SDK: ``Client`` (blocking) and ``AsyncClient`` (asyncio) over the HTTP API.

Errors are the whole typed tree of ``pfs.fs.errors`` (``FSError`` and every subclass), carrying
the server's message verbatim, plus the SDK's own: ``ServerNotRunning`` when nothing answers at
the URL, ``StallTimeout`` when a stream delivers nothing for ``stall_timeout`` seconds,
``TLSError`` when an ``https://`` server's certificate is not trusted (or one side speaks plain
HTTP) and ``IncompleteDownload`` when a download's answer ends short.
"""

from __future__ import annotations

from pfs.client._async import AsyncClient, AsyncRemoteFile, AsyncRemoteHandle
from pfs.client._base import ServerNotRunning, StallTimeout, TLSError
from pfs.client._download import IncompleteDownload
from pfs.client._sync import Client, RemoteFile, RemoteHandle
from pfs.fs.errors import (
    AlreadyExists,
    BadGateway,
    CrossMount,
    FSError,
    InsufficientStorage,
    InvalidArgument,
    IsADirectory,
    MountExists,
    NotADirectory,
    NotEmpty,
    NotFound,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    ReadOnly,
    RequestTimeout,
    SymlinkLoop,
    Timeout,
    TooLarge,
    Unavailable,
)
from pfs.fs.fileinfo import FileInfo

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "AsyncRemoteFile",
    "AsyncRemoteHandle",
    "BadGateway",
    "Client",
    "CrossMount",
    "FSError",
    "FileInfo",
    "IncompleteDownload",
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
    "RemoteFile",
    "RemoteHandle",
    "RequestTimeout",
    "ServerNotRunning",
    "StallTimeout",
    "SymlinkLoop",
    "TLSError",
    "Timeout",
    "TooLarge",
    "Unavailable",
]
