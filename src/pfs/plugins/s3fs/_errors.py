"""Translate S3/botocore failures into PFS errors at the one boundary where they happen."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pfs.fs.errors import (
    FSError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Timeout,
    Unavailable,
)

#: S3 error codes that mean "your credentials are not accepted".
_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
        "403",
    }
)
_MISSING_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NotFound", "404"})


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def translate(exc: BaseException, context: str) -> FSError:
    """The PFS error for a failed S3 call; ``context`` says what was being done."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, FSError):
        return exc
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return Timeout(f"{context}: S3 endpoint timed out: {exc}")
    if isinstance(exc, EndpointConnectionError):
        return Unavailable(f"{context}: S3 endpoint unreachable: {exc}")
    if isinstance(exc, NoCredentialsError):
        return PermissionDenied(
            f"{context}: no AWS credentials (set access_key_id and secret_access_key)"
        )
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message") or code
        if code in _AUTH_CODES:
            return PermissionDenied(f"{context}: access denied by S3 ({code}: {message})")
        if code in _MISSING_CODES:
            return NotFound(f"{context}: {code}: {message}")
        if code in ("InvalidBucketName", "KeyTooLongError", "InvalidArgument"):
            return InvalidArgument(f"{context}: {code}: {message}")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
            return PreconditionFailed(
                f"{context}: precondition failed: the object changed meanwhile ({code})"
            )
        if code in ("SlowDown", "ServiceUnavailable", "503"):
            return Unavailable(f"{context}: S3 is busy ({code}: {message})")
        return FSError(f"{context}: S3 error {code}: {message}")
    if isinstance(exc, OSError):
        return Unavailable(f"{context}: S3 endpoint unreachable: {exc}")
    return FSError(f"{context}: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def s3_errors(context: str) -> Iterator[None]:
    """Re-raise any S3 failure inside the block as a PFS error (chained)."""
    try:
        yield
    except FSError:
        raise
    except Exception as exc:
        raise translate(exc, context) from exc
