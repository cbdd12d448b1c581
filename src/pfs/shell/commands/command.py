"""What a shell command is: a function ``(ctx, args)``, its help line and its argparse set-up."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from pfs.shell.context import Context, UsageError


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so the REPL survives bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)

    def print_help(self, file: object = None) -> None:
        """-h: nothing printed here; ``run_command`` writes the help through the context, so it
        goes where the command's output goes (a REPL redirect) and is printed once."""

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise HelpShown()


class HelpShown(Exception):
    """``-h`` was given: help is printed, nothing else runs."""


def no_args(parser: argparse.ArgumentParser) -> None:
    """The set-up of a command that takes no arguments (``-h`` only)."""


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[Context, argparse.Namespace], None]
    help: str
    configure: Callable[[argparse.ArgumentParser], None] = no_args
    repl_only: bool = False
    #: ``-h`` is the command's own option (``ls -lh``); help is ``--help`` only.
    own_h: bool = False

    def parser(self, prog: str | None = None) -> Parser:
        """``prog`` names the command in usage lines: ``pfs ls`` one-shot, ``ls`` in ``pfs sh``."""
        parser = Parser(prog=prog or self.name, description=self.help, add_help=not self.own_h)
        if self.own_h:
            parser.add_argument("--help", action="help", help="show this help message and exit")
        self.configure(parser)
        return parser
