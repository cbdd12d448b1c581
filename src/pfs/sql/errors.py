"""Translate driver errors (sqlite3, asyncmy) into the PFS error tree at the backend boundary.

Wrap every driver call in :func:`mysql_errors` or :func:`sqlite_errors`; the raised PFS error is
chained (``from exc``) to the driver's so logs keep the original.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from pfs.fs.errors import AlreadyExists, FSError, InvalidArgument, TooLarge, Unavailable

try:
    from asyncmy import errors as _mysql
except ImportError:  # the mysql backends name the missing package when used
    _mysql = None

#: MySQL client/server error codes meaning "the server is not there (any more)".
MYSQL_UNREACHABLE = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1927}
#: Transient conflicts worth retrying the whole transaction for.
MYSQL_RETRYABLE = {1205, 1213}
_MYSQL_TOO_LARGE = {1153, 1301}
_MYSQL_DUPLICATE = {1062, 1022}
_MYSQL_ACCESS = {1044, 1045, 1049}


def mysql_error_code(exc: BaseException) -> int:
    """The numeric MySQL error code of a driver exception (0 when it has none)."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else 0


def mysql_is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost or refused connection (as opposed to a bad statement)."""
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    return mysql_error_code(exc) in MYSQL_UNREACHABLE


def translate_mysql_error(exc: BaseException, address: str) -> FSError:
    """The PFS error for an asyncmy/socket exception from the server at ``address``."""
    code = mysql_error_code(exc)
    text = exc.args[1] if len(getattr(exc, "args", ())) > 1 else str(exc)
    if mysql_is_unreachable(exc):
        return Unavailable(f"mysql: database at {address} is unavailable: {text}")
    if code in MYSQL_RETRYABLE:
        return Unavailable(f"mysql: database at {address} is busy: {text}")
    if code in _MYSQL_TOO_LARGE:
        return TooLarge(f"mysql: value too large for the database at {address}: {text}")
    if code in _MYSQL_DUPLICATE:
        return AlreadyExists(f"mysql: {text}")
    if code in _MYSQL_ACCESS:
        return Unavailable(f"mysql: cannot use the database at {address}: {text}")
    if code == 1406:
        return TooLarge(f"mysql: {text}")
    return FSError(f"mysql: {text}" if code else f"mysql: {type(exc).__name__}: {text}")


@contextmanager
def mysql_errors(address: str) -> Iterator[None]:
    """Raise asyncmy and connection errors inside the block as PFS errors naming ``address``."""
    try:
        yield
    except FSError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or (_mysql is not None and isinstance(exc, _mysql.MySQLError)):
            raise translate_mysql_error(exc, address) from exc
        raise


def translate_sqlite_error(exc: sqlite3.Error, path: str) -> FSError:
    """The PFS error for a sqlite3 exception on the database file ``path``."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.IntegrityError):
        return AlreadyExists(f"sqlite: {text}")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return Unavailable(f"sqlite: database {path} is busy: {text}")
    if code == sqlite3.SQLITE_TOOBIG or isinstance(exc, sqlite3.DataError):
        return TooLarge(f"sqlite: value too large for {path}: {text}")
    if code in (
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_PERM,
    ):
        return Unavailable(f"sqlite: database {path} is unavailable: {text}")
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return InvalidArgument(f"sqlite: {text}")
    return FSError(f"sqlite: {text}")


@contextmanager
def sqlite_errors(path: str) -> Iterator[None]:
    """Raise sqlite3 errors inside the block as PFS errors naming the database file."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate_sqlite_error(exc, path) from exc
