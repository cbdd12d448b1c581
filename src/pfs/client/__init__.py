"""The PFS Python SDK: ``Client`` (blocking) and ``AsyncClient`` (asyncio) over the HTTP API.

Errors are the typed ``pfs.fs.errors`` classes carrying the server's message verbatim
(``NotFound``, ``AlreadyExists``, ``PermissionDenied``, ...), plus ``ServerNotRunning`` when
nothing answers at the URL, ``StallTimeout`` when a stream delivers nothing for
``stall_timeout`` seconds and ``IncompleteDownload`` when a download's answer ends short.
"""

from __future__ import annotations

from pfs.client._async import AsyncClient, AsyncRemoteFile
from pfs.client._base import ServerNotRunning, StallTimeout
from pfs.client._download import IncompleteDownload
from pfs.client._sync import Client, RemoteFile
from pfs.fs.errors import (
    AlreadyExists,
    FSError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    PermissionDenied,
    Timeout,
    Unavailable,
)
from pfs.fs.fileinfo import FileInfo

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "AsyncRemoteFile",
    "Client",
    "FSError",
    "FileInfo",
    "IncompleteDownload",
    "InvalidArgument",
    "IsADirectory",
    "NotADirectory",
    "NotFound",
    "PermissionDenied",
    "RemoteFile",
    "ServerNotRunning",
    "StallTimeout",
    "Timeout",
    "Unavailable",
]
