"""``pfs sh``: the interactive shell (prompt_toolkit): cwd, completion, pipes, redirection."""

from __future__ import annotations

import io
import logging
import os
import shlex
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from pfs import __version__
from pfs.client import Client, FSError
from pfs.client._base import server_root
from pfs.shell.commands import ALIASES, COMMANDS, run_command
from pfs.shell.commands.session import remote_names
from pfs.shell.commands.transfer import local_path
from pfs.shell.commands.writing import append_or_write
from pfs.shell.context import Context, ExitShell, UsageError, error_line

BANNER = r"""
    ____  ___________
   / __ \/ ____/ ___/
  / /_/ / /_   \__ \
 / ____/ __/  ___/ /
/_/   /_/    /____/
"""

REDIRECTS = (">", ">>")
#: A redirection here discards the output in the shell itself: no request, no devfs needed.
DEV_NULL = "/dev/null"
log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """``cmd [< local] | cmd … [> file [> file …]]``: argv lists, input file, output targets."""

    segments: list[list[str]]
    redirects: list[tuple[str, str]]
    source: str | None = None


def parse_line(line: str) -> Pipeline:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|><")
    lexer.whitespace_split = True
    lexer.commenters = ""  # '#' is data (echo "# title" > f), as with shlex.split
    try:
        tokens = list(lexer)
    except ValueError as exc:  # unbalanced quotes
        raise UsageError(str(exc)) from None
    segments: list[list[str]] = [[]]
    redirects: list[tuple[str, str]] = []
    source = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in (*REDIRECTS, "<"):
            target = tokens[i + 1] if i + 1 < len(tokens) else None
            if target is None or target in (*REDIRECTS, "<", "|"):
                raise UsageError(f"syntax error: {token} needs a file name")
            if token == "<":
                if len(segments) > 1 or source is not None:
                    raise UsageError("syntax error: < only for the first command")
                source = target
            else:
                redirects.append((token, target))
            i += 2
            continue
        if token == "|":
            if redirects:
                raise UsageError("syntax error: | after a redirection")
            segments.append([])
        elif token[:1] in ("|", "<", ">"):
            raise UsageError(f"syntax error near '{token}'")
        else:
            segments[-1].append(token)
        i += 1
    if any(not argv for argv in segments):
        if len(segments) == 1 and not redirects and source is None:
            return Pipeline([], [])
        raise UsageError("syntax error: empty command")
    return Pipeline(segments, redirects, source)


def execute(ctx: Context, line: str) -> None:
    """Run one REPL line; output goes to ``ctx.out`` unless piped or redirected.

    ``< file`` feeds a local file (it is the user's machine that has it) to the first command,
    as a stream, so ``write /memfs/big.iso < big.iso`` does not load the file.
    """
    pipeline = parse_line(line)
    with ExitStack() as stack:
        data: bytes | BinaryIO | None = None
        if pipeline.source is not None:
            data = stack.enter_context(open(local_path(pipeline.source), "rb"))
        for index, argv in enumerate(pipeline.segments):
            captured = index < len(pipeline.segments) - 1 or bool(pipeline.redirects)
            buffer = io.BytesIO() if captured else ctx.out
            step = replace(
                ctx,
                out=buffer,
                stdin=data,
                terminal=ctx.terminal and not captured,
                color=ctx.color and not captured,
                progress=ctx.progress and not captured,
            )
            try:
                run_command(step, argv)
            finally:
                ctx.cwd = step.cwd
            data = buffer.getvalue() if captured else None
    message = ""
    for number, (op, target) in enumerate(pipeline.redirects):
        if number and not message:
            raise FSError(f"no output to write to {target}")
        payload = data if number == 0 else message.encode()
        path = ctx.resolve(target)
        if path == DEV_NULL:
            message = ""
            continue
        message = append_or_write(ctx, path, payload or b"", op == ">>")
    if message:
        ctx.echo(message)


class PathCompleter(Completer):
    """Completes command names, then remote paths by listing the directory being typed."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        word = "" if not text or text[-1].isspace() else text.split()[-1]
        before = text[: len(text) - len(word)].split()
        if not before or before[-1] == "|":
            names = sorted(set(COMMANDS) | set(ALIASES))
            for name in names:
                if name.startswith(word):
                    yield Completion(name, start_position=-len(word))
            return
        if word.startswith("-"):
            return
        head, slash, prefix = word.rpartition("/")
        directory = self.ctx.resolve((head or "/") if slash else ".")
        for entry in sorted(remote_names(self.ctx, directory), key=lambda e: e.name):
            if entry.name.startswith(prefix):
                suffix = "/" if entry.is_dir else ""
                yield Completion(
                    entry.name + suffix,
                    start_position=-len(prefix),
                    display=entry.name + suffix,
                )


def history_file() -> History:
    path = Path(os.environ.get("PFS_HISTORY_FILE") or Path.home() / ".pfs_history")
    try:
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def run_line(ctx: Context, line: str) -> bool:
    """Execute a line, printing any error; False when it failed."""
    name = line.split(maxsplit=1)[0] if line.strip() else ""
    try:
        execute(ctx, line)
        return True
    except (FSError, OSError, UsageError) as exc:
        ctx.flush()
        print(error_line(name, exc), file=sys.stderr, flush=True)
        return False
    except (ExitShell, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug in one command must not end the session
        log.debug("command failed", exc_info=True)
        print(f"{name}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return False
    finally:
        ctx.flush()


def run_repl(client: Client, ctx: Context) -> int:
    url = server_root(client.base_url)
    try:
        info = client.health()
    except FSError as exc:
        print(f"Failed to connect to {url}", file=sys.stderr)
        print(f"  {exc}", file=sys.stderr)
        return 1
    ctx.interactive = True
    if not sys.stdin.isatty():
        return _run_script(ctx)
    print(BANNER)
    print(f"Client: pfs-cli {__version__}")
    print(
        f"Server: version={info.get('version')}, commit={info.get('gitCommit')}, "
        f"build={info.get('buildTime')}"
    )
    print(f"Connected to pfs server at {url}")
    print("press 'help' or '?' for help")
    session: PromptSession[str] = PromptSession(
        history=history_file(),
        completer=PathCompleter(ctx),
        complete_while_typing=False,
    )
    while True:
        try:
            line = session.prompt(f"pfs:{ctx.cwd}> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not line.strip():
            continue
        try:
            run_line(ctx, line)
        except KeyboardInterrupt:
            print("^C")
        except ExitShell:
            break
    print("Goodbye!")
    return 0


def _run_script(ctx: Context) -> int:
    """``pfs sh < script``: run each line, no prompt; exit status 1 if any line failed."""
    status = 0
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if not run_line(ctx, line):
                status = 1
        except ExitShell:
            break
    return status
