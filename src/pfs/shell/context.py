"""What every shell command runs with: the client, the working directory and where output goes."""

from __future__ import annotations

import posixpath
import sys
from dataclasses import dataclass, field
from typing import BinaryIO

from pfs.client import Client, FSError

LOCAL_PREFIX = "local:"
PFS_PREFIX = "pfs:"


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


class UnknownCommand(UsageError):
    """A command name the shell does not know."""


class ExitShell(Exception):
    """``exit``/``quit`` in the REPL."""


@dataclass
class Context:
    """State shared by the commands of one ``pfs`` invocation or one REPL session.

    Args:
        client: the SDK client talking to the server.
        out: binary stream the command's output goes to (a buffer when piped or redirected).
        stdin: what is piped into the command in the REPL (bytes, or a local file for
            ``< file``), or None to use the process's stdin.
        cwd: current remote directory (the REPL's ``cd``); one-shot commands stay at ``/``.
        interactive: running inside ``pfs sh``.
        json: print machine-readable JSON instead of text.
        color: colour directory names (output is a terminal and NO_COLOR is unset).
        progress: show rich progress bars for transfers.
    """

    client: Client
    out: BinaryIO = field(default_factory=lambda: sys.stdout.buffer)
    err: object = field(default_factory=lambda: sys.stderr)
    stdin: bytes | BinaryIO | None = None
    cwd: str = "/"
    interactive: bool = False
    json: bool = False
    color: bool = False
    progress: bool = False
    terminal: bool = False

    def resolve(self, path: str) -> str:
        """An absolute, normalised remote path; relative paths are taken from ``cwd``."""
        if path.startswith(PFS_PREFIX):
            path = path[len(PFS_PREFIX) :]
        if not path.startswith("/"):
            path = posixpath.join(self.cwd, path)
        path = posixpath.normpath(path)
        return "/" + path.lstrip("/") if path != "/" else "/"

    def is_local(self, path: str) -> bool:
        """Whether a ``cp`` argument names a local file.

        ``local:<path>`` always does. One-shot commands also treat relative paths (``./a``,
        ``a.txt``, ``~/x``) as local, since the server only knows absolute paths; in the REPL a
        relative path is remote, taken from the current directory.
        """
        if path.startswith(LOCAL_PREFIX):
            return True
        if path.startswith(PFS_PREFIX) or path.startswith("/"):
            return False
        return not self.interactive

    def write(self, data: bytes) -> None:
        self.out.write(data)

    def echo(self, text: str = "") -> None:
        self.out.write(text.encode() + b"\n")

    def flush(self) -> None:
        self.out.flush()


def error_line(name: str, exc: BaseException) -> str:
    """``<cmd>: <message>``, the server's text verbatim (``Unknown command: x`` stands alone)."""
    if isinstance(exc, UnknownCommand):
        return str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, FSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{name}: {where}{exc.strerror}"
    return f"{name}: {exc}"
