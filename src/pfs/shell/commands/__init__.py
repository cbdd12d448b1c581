"""The shell's commands, shared by one-shot ``pfs <cmd>`` and the ``pfs sh`` REPL.

Each command is a function ``(ctx, args)`` plus an argparse set-up (``command.Command``); it writes
its output to ``ctx.out`` and lets ``pfs.fs.errors`` exceptions propagate (the caller prints them
in one line). ``COMMANDS`` below is the one list of them; the modules hold the functions by
concept: ``reading``, ``writing``, ``transfer``, ``search``, ``admin`` and the REPL's
``session``, on top of ``common`` (what several share) and ``command``.
"""

from __future__ import annotations

import argparse
import time

from pfs.client import FSError
from pfs.shell.commands import admin, reading, search, session, text, transfer, writing
from pfs.shell.commands.command import Command, HelpShown
from pfs.shell.context import Context, UnknownCommand, UsageError


def run_command(ctx: Context, argv: list[str]) -> None:
    """Parse ``argv`` (command name first) and run it."""
    name = ALIASES.get(argv[0], argv[0])
    cmd = COMMANDS.get(name)
    if cmd is None or (cmd.repl_only and not ctx.interactive):
        raise UnknownCommand(f"Unknown command: {argv[0]}")
    parser = cmd.parser(name if ctx.interactive else f"pfs {name}")
    try:
        namespace = parser.parse_args(argv[1:])
    except HelpShown:
        ctx.write(parser.format_help().encode())
        return
    cmd.run(ctx, namespace)


# The commands about commands: they read the table below.


def watch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--interval", type=float, default=2.0, help="seconds between runs")
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="command …")


def watch(ctx: Context, ns: argparse.Namespace) -> None:
    if not ns.words or ns.words[0] in ("watch", "sh"):
        raise UsageError("watch: give a command to repeat, e.g. watch -n 1 ls /queuefs")
    if ns.interval <= 0:
        raise UsageError("watch: the interval must be positive")
    while True:
        ctx.write(b"\x1b[2J\x1b[H")  # clear the screen, cursor home
        ctx.echo(f"Every {ns.interval:g}s: {' '.join(ns.words)}\n")
        try:
            run_command(ctx, ns.words)
        except FSError as exc:
            ctx.echo(f"{ns.words[0]}: {exc}")
        ctx.flush()
        time.sleep(ns.interval)


def help_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", nargs="?")


def help_(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.topic:
        cmd = COMMANDS.get(ALIASES.get(ns.topic, ns.topic))
        if cmd is None:
            raise UsageError(f"Unknown command: {ns.topic}")
        ctx.write(cmd.parser().format_help().encode())
        return
    for name in sorted(COMMANDS):
        cmd = COMMANDS[name]
        if cmd.repl_only and not ctx.interactive:
            continue
        ctx.echo(f"  {name:<10} {cmd.help}")
    if ctx.interactive:
        ctx.echo("")
        ctx.echo("  Redirect output with > and >> (echo hi > /memfs/a); pipe with | into")
        ctx.echo("  cat, tee [-a] and grep. Relative paths start at the current directory;")
        ctx.echo("  local files are written local:<path> (cp local:photo.jpg /memfs/).")


_TABLE = (
    # Listing and reading.
    Command(
        "ls",
        reading.ls,
        "List a directory: mode, size, modification time and name",
        reading.ls_args,
        own_h=True,
    ),
    Command("tree", reading.tree, "Show a directory tree with sizes", reading.tree_args),
    Command("cat", reading.cat, "Print files (or piped input)", reading.cat_args),
    Command(
        "tail", reading.tail, "Print the last lines of a file (-f follows it)", reading.tail_args
    ),
    Command("head", text.head, "Print the first lines of files or piped input", text.head_args),
    Command("wc", text.wc, "Count lines, words and bytes of files or piped input", text.wc_args),
    Command("sort", text.sort, "Sort the lines of files or piped input", text.sort_args),
    Command("stat", reading.stat, "Show a file's metadata", reading.stat_args),
    Command(
        "events",
        reading.events,
        "Print changes under a path as they happen (-r: the whole subtree)",
        reading.events_args,
    ),
    Command("readlink", reading.readlink, "Print a symbolic link's target", reading.readlink_args),
    # Writing.
    Command("write", writing.write, "Write text (or stdin) to a file", writing.write_args),
    Command(
        "echo",
        writing.echo,
        "Print text (use with > and >> to write files)",
        writing.echo_args,
        repl_only=True,
    ),
    Command(
        "tee",
        writing.tee,
        "Write piped input to files and pass it on",
        writing.tee_args,
        repl_only=True,
    ),
    Command(
        "touch",
        writing.touch,
        "Set files' modification time to now; create missing ones empty",
        writing.touch_args,
    ),
    Command(
        "truncate",
        writing.truncate,
        "Cut files to a size, or extend them with zero bytes: truncate -s SIZE FILE…",
        writing.truncate_args,
    ),
    Command("ln", writing.ln, "Make a symbolic link: ln -s TARGET LINK", writing.ln_args),
    Command("mkdir", writing.mkdir, "Create directories", writing.mkdir_args),
    Command("rm", writing.rm, "Remove files (-r: directories and their contents)", writing.rm_args),
    Command("mv", writing.mv, "Move or rename within one mount", writing.mv_args),
    Command("chmod", writing.chmod, "Change permissions (octal mode)", writing.chmod_args),
    # Transfers.
    Command(
        "cp",
        transfer.cp,
        "Copy PFS→PFS, local→PFS or PFS→local (local paths: local:<path>)",
        transfer.cp_args,
    ),
    Command(
        "upload",
        transfer.upload,
        "Upload a local file or directory (-r)",
        transfer.transfer_args("local", "remote"),
    ),
    Command(
        "download",
        transfer.download,
        "Download a file or directory (-r) to the local disk (-c resumes)",
        transfer.transfer_args("remote", "local", resumable=True),
    ),
    # Search and digests.
    Command(
        "grep",
        search.grep,
        "Search files with a regular expression (RE2 syntax)",
        search.grep_args,
    ),
    Command(
        "digest", search.digest, "Print a file's xxh3 (default) or md5 digest", search.digest_args
    ),
    # Mounts, plugins, health.
    Command("mounts", admin.mounts, "List mounted plugins"),
    Command(
        "mount",
        admin.mount,
        "Mount a plugin: mount <fstype> <path> [key=value …]",
        admin.mount_args,
    ),
    Command("unmount", admin.unmount, "Unmount the plugin at a path", admin.unmount_args),
    Command("plugins", admin.plugins, "List, load or unload external plugins", admin.plugins_args),
    Command("health", admin.health, "Check the server"),
    # REPL-only navigation.
    Command("cd", session.cd, "Change the current directory", session.cd_args, repl_only=True),
    Command(
        "watch",
        watch,
        "Repeat a command every few seconds until Ctrl-C",
        watch_args,
        repl_only=True,
    ),
    Command("pwd", session.pwd, "Print the current directory", repl_only=True),
    Command("clear", session.clear, "Clear the screen", repl_only=True),
    Command("exit", session.exit_, "Leave the shell", repl_only=True),
    Command("help", help_, "List commands, or show one command's options", help_args),
)

#: Every command by name, in the order of the table above.
COMMANDS: dict[str, Command] = {cmd.name: cmd for cmd in _TABLE}
ALIASES = {"?": "help", "quit": "exit"}
