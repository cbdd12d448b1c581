"""The shell's command table (pfs.shell.commands): one explicit list, so a command function
written in one of the concept modules but left out of the table would never run. In-process: no
server is needed to parse arguments or print help."""

from __future__ import annotations

import inspect
import io

import pytest

from pfs.client import Client
from pfs.shell import commands
from pfs.shell.commands import admin, reading, search, session, text, transfer, writing
from pfs.shell.context import Context

CONCEPT_MODULES = [reading, writing, transfer, search, admin, session, text]


def command_functions(module) -> set:
    """The public functions of ``module`` shaped like a command: ``(ctx, ns)``."""
    return {
        func
        for name, func in inspect.getmembers(module, inspect.isfunction)
        if func.__module__ == module.__name__
        and not name.startswith("_")
        and list(inspect.signature(func).parameters) == ["ctx", "ns"]
    }


def test_every_command_function_is_in_the_table():
    registered = {cmd.run for cmd in commands.COMMANDS.values()}
    for module in CONCEPT_MODULES:
        missing = command_functions(module) - registered
        names = sorted(func.__name__ for func in missing)
        assert not missing, f"{module.__name__}: not in COMMANDS: {names}"
    assert {cmd.run.__module__ for cmd in commands.COMMANDS.values()} == {
        m.__name__ for m in [commands, *CONCEPT_MODULES]
    }
    assert set(commands.ALIASES.values()) <= set(commands.COMMANDS)


@pytest.mark.parametrize("name", sorted(commands.COMMANDS))
def test_each_command_prints_its_help(name):
    out = io.BytesIO()
    client = Client("http://127.0.0.1:9")  # never contacted: -h only parses
    try:
        flag = "--help" if commands.COMMANDS[name].own_h else "-h"
        commands.run_command(Context(client=client, out=out, interactive=True), [name, flag])
    finally:
        client.close()
    assert out.getvalue().decode().startswith(f"usage: {name}")
    assert commands.COMMANDS[name].help in out.getvalue().decode()
