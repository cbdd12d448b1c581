"""``pfs``: one-shot commands (``pfs ls /memfs``) and ``pfs sh``.

Exit status: 0 success, 1 an error (printed on stderr as ``pfs <cmd>: <message>``), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import signal
import sys

from pfs import __version__

# The client (httpx) and the command table load in the functions that need them, so that
# ``pfs --version`` (what scripts probe) answers without them.

VERSION = f"pfs, version pfs-cli {__version__}"

EPILOG = """\
Commands (pfs <command> -h for options):
{commands}
  sh         Interactive shell (prompt, cd, completion, history, > and >> redirection, pipes)
  fuse       Mount the server's namespace with FUSE (pfs fuse --help)
  mcp        Serve the namespace to agents over MCP stdio (pfs mcp --help)
  completion Print a tab-completion script: source <(pfs completion bash|zsh), or fish

The server is --server (URL or host:port), else the --profile (or $PFS_PROFILE) named in
~/.config/pfs/client.yaml, else $PFS_API_URL, else that file's default profile, else
http://localhost:8080; a token likewise from --token, the profile or $PFS_TOKEN.
cp treats local:<path> and relative paths (./a, a.txt) as local files and absolute paths as
PFS paths. Exit status: 0 ok, 1 error, 2 usage.
"""

SH_HELP = """\
usage: pfs [--server URL] [--token TOKEN] [--profile NAME] sh

An interactive shell on the server: every pfs command, plus cd, pwd, history, tab completion,
pipes (cat x | grep y) and > / >> redirection into PFS files. `help` inside lists the commands,
`help CMD` (or CMD -h) shows one command's options; exit or Ctrl-D leaves."""


def build_parser() -> argparse.ArgumentParser:
    from pfs.shell.commands import COMMANDS

    listing = "\n".join(
        f"  {name:<10} {cmd.help}" for name, cmd in sorted(COMMANDS.items()) if not cmd.repl_only
    )
    parser = argparse.ArgumentParser(
        prog="pfs",
        description="Command-line client for a PFS server.",
        epilog=EPILOG.format(commands=listing),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server",
        "--pfs-api-baseurl",
        dest="server",
        metavar="URL",
        help="server URL (default: $PFS_API_URL or http://localhost:8080)",
    )
    parser.add_argument("--token", help="bearer token (default: $PFS_TOKEN)")
    parser.add_argument(
        "--ca-bundle",
        help="CA certificates (PEM) to trust an https:// server with (default: $PFS_CA_BUNDLE, "
        "else the system's)",
    )
    parser.add_argument("--profile", help="a profile of ~/.config/pfs/client.yaml")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--no-color", action="store_true", help="never colour output")
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("command", nargs="?")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def split_global_options(args: list[str]) -> tuple[list[str], argparse.Namespace]:
    """Take --json, --server and --token given after the command (pfs ls /memfs --json)."""
    late = argparse.Namespace(json=False, server=None, token=None)
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest.append(arg)
            rest.extend(items)
            break
        if arg == "--json":
            late.json = True
        elif arg in ("--server", "--token"):
            setattr(late, arg[2:], next(items, None))
        elif arg.startswith(("--server=", "--token=")):
            key, _, value = arg[2:].partition("=")
            setattr(late, key, value)
        else:
            rest.append(arg)
    return rest, late


def main(argv: list[str] | None = None) -> int:
    standalone = argv is None  # the pfs command itself, not a caller in a bigger process
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        print(VERSION)
        return 0
    if argv[:1] in (["fuse"], ["mcp"]):  # own parsers and long-running: pfs.fuse / pfs.mcp
        from pfs.extras import needs

        try:
            front_end = importlib.import_module(f"pfs.{argv[0]}")
        except ImportError as exc:
            print(f"pfs: {needs(f'pfs {argv[0]}', exc)}", file=sys.stderr)
            return 1
        return front_end.main(argv[1:])
    if standalone:
        skip_unused_imports()
    return run(argv)


def skip_unused_imports() -> None:
    """Keep out what the client's libraries import only when installed and a one-shot command
    never uses: httpx's own command line (click, rich, pygments) and trio (httpcore's support for
    it), ~65 ms of each ``pfs ls``. A None entry makes their import fail as if they were absent,
    which both libraries expect. Only in the pfs process (pfs.fuse runs on trio: not here)."""
    for module in ("httpx._main", "trio"):
        sys.modules.setdefault(module, None)  # type: ignore[arg-type]


def run(argv: list[str]) -> int:
    """Everything but ``--version``, ``fuse`` and ``mcp``: a command of the table, or ``sh``."""
    from pfs.client import Client, FSError
    from pfs.client.profile import ProfileError, load_profile, resolve
    from pfs.shell.commands import run_command
    from pfs.shell.context import Context, ExitShell, UnknownCommand, UsageError, error_line

    parser = build_parser()
    options = parser.parse_args(argv)
    if options.command is None:
        parser.print_help()
        return 0
    command_args, late = split_global_options(options.args)
    if options.command == "completion":  # needs no server
        return print_completion(command_args)
    json_output = options.json or late.json
    try:
        profile = load_profile(options.profile)
    except ProfileError as exc:
        print(f"pfs: {exc}", file=sys.stderr)
        return 2
    options.server, options.token = resolve(
        options.server or late.server, options.token or late.token, profile
    )
    terminal = sys.stdout.isatty()
    try:
        client = Client(
            options.server, token=options.token, verify=options.ca_bundle or profile.ca_bundle
        )
    except FSError as exc:  # a CA bundle that cannot be read
        print(f"pfs: {exc}", file=sys.stderr)
        return 2
    ctx = Context(
        client=client,
        json=json_output,
        terminal=terminal and not json_output,
        color=terminal
        and not json_output
        and not options.no_color
        and "NO_COLOR" not in os.environ,
        progress=terminal and not json_output,
    )
    name = options.command
    if name in ("sh", "shell") and {"-h", "--help"} & set(command_args):
        print(SH_HELP)
        return 0
    try:
        if name in ("sh", "shell"):
            from pfs.shell.repl import run_repl  # prompt_toolkit only loads for the REPL

            return run_repl(client, ctx)
        run_command(ctx, [name, *command_args])
        ctx.flush()
        return 0
    except UnknownCommand:
        print(f"pfs: unknown command '{name}'{did_you_mean(name)}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"pfs {error_line(name, exc)}", file=sys.stderr)
        return 2
    except (FSError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            return _broken_pipe()
        print(f"pfs {error_line(name, exc)}", file=sys.stderr)
        return 1
    except ExitShell:
        return 0
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        client.close()


def print_completion(args: list[str]) -> int:
    from pfs.shell.completion import SHELLS, script

    if len(args) != 1 or args[0] not in SHELLS:
        print(f"usage: pfs completion {{{','.join(SHELLS)}}}", file=sys.stderr)
        return 0 if {"-h", "--help"} & set(args) else 2
    print(script(args[0]), end="")
    return 0


def did_you_mean(name: str) -> str:
    from pfs.shell.commands import COMMANDS

    known = [n for n, cmd in COMMANDS.items() if not cmd.repl_only]
    known += ["sh", "fuse", "mcp", "completion"]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {' or '.join(close)}? (pfs --help lists commands)"
    return " (pfs --help lists commands)"


def _broken_pipe() -> int:
    """``pfs cat big | head``: the reader left; exit quietly like cat(1) killed by SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
