"""The SDK's public names, checked as httpx checks its own: the exact sorted list."""

import pfs.client
import pfs.fs.errors


def test_client_exports_exactly_these_names():
    assert pfs.client.__all__ == [
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
    assert all(
        getattr(pfs.client, name).__module__.startswith("pfs.") for name in pfs.client.__all__
    )


def test_client_exports_the_whole_error_tree():
    """A class added to pfs.fs.errors must be exported by the SDK too, as the same object."""
    for name in pfs.fs.errors.__all__:
        member = getattr(pfs.fs.errors, name)
        if isinstance(member, type):
            assert getattr(pfs.client, name) is member, name
