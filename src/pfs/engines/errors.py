"""Driver errors of the Redis and NATS clients → the PFS error tree, and each call's deadline.

:func:`engine_call` wraps one back-end operation: it is cancelled after ``query_timeout`` (a
frozen server, a silent network) and fails with :class:`Timeout` (504) naming ``host:port``; a
server that refuses or drops connections is :class:`Unavailable` (503) naming it too. The raised
PFS error is chained (``from exc``) to the driver's so logs keep the original.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pfs.engines.options import EngineOptions
from pfs.fs.errors import FSError, Timeout, TooLarge, Unavailable

try:
    from redis import exceptions as _redis
except ImportError:  # the redis back ends name the missing extra when used
    _redis = None  # type: ignore[assignment]
try:
    from nats import errors as _nats
    from nats.js import errors as _js
except ImportError:  # the nats back ends name the missing extra when used
    _nats = _js = None  # type: ignore[assignment]


def translate_engine_error(exc: BaseException, options: EngineOptions) -> FSError | None:
    """The PFS error for a Redis/NATS client exception, or None when it is none of theirs."""
    where = f"{options.kind}: server at {options.address}"
    if _redis is not None and isinstance(exc, _redis.RedisError):
        if isinstance(exc, _redis.TimeoutError):
            return Timeout(f"{where} did not answer within {options.query_timeout:g}s")
        if isinstance(exc, _redis.AuthenticationError | _redis.AuthorizationError):
            return Unavailable(f"{where} refuses us: {exc}")
        if isinstance(exc, _redis.ConnectionError | _redis.BusyLoadingError):
            return Unavailable(f"{where} is unavailable: {exc}")
        if isinstance(exc, _redis.OutOfMemoryError):
            return TooLarge(f"{where} is out of memory (maxmemory): {exc}")
        return FSError(f"redis: {exc}")
    if _nats is not None and isinstance(exc, _nats.Error | _js.Error):
        if isinstance(exc, _nats.MaxPayloadError):
            return TooLarge(f"{where}: message larger than the server's max_payload: {exc}")
        if isinstance(exc, _nats.TimeoutError):
            return Timeout(f"{where} did not answer within {options.query_timeout:g}s")
        if isinstance(
            exc,
            _nats.NoServersError
            | _nats.ConnectionClosedError
            | _nats.ConnectionReconnectingError
            | _nats.NoRespondersError
            | _nats.StaleConnectionError
            | _nats.UnexpectedEOF
            | _js.ServiceUnavailableError,
        ):
            return Unavailable(f"{where} is unavailable: {type(exc).__name__} {exc}")
        if isinstance(exc, _nats.AuthorizationError | _nats.InvalidUserCredentialsError):
            return Unavailable(f"{where} refuses us: {exc}")
        return FSError(f"nats: {type(exc).__name__}: {exc}")
    if isinstance(exc, ConnectionError | OSError) and not isinstance(exc, TimeoutError):
        return Unavailable(f"{where} is unavailable: {exc}")
    return None


@asynccontextmanager
async def engine_call(
    options: EngineOptions, connected: Callable[[], bool] | None = None
) -> AsyncIterator[None]:
    """Run the block within ``query_timeout``; raise driver errors as PFS errors.

    ``connected`` tells whether the client holds a live connection (NATS reconnects in the
    background): without one the call fails at once with 503 instead of waiting out its deadline.
    """
    where = f"{options.kind}: server at {options.address}"
    if connected is not None and not connected():
        raise Unavailable(f"{where} is unavailable: not connected (reconnecting)")
    try:
        async with asyncio.timeout(options.query_timeout):
            yield
    except FSError:
        raise
    except TimeoutError as exc:
        if connected is not None and not connected():
            raise Unavailable(f"{where} is unavailable: connection lost") from exc
        translated = translate_engine_error(exc, options)
        if translated is not None and not isinstance(translated, Timeout):
            raise translated from exc
        raise Timeout(f"{where} did not answer within {options.query_timeout:g}s") from exc
    except Exception as exc:
        translated = translate_engine_error(exc, options)
        if translated is None:
            raise
        raise translated from exc
