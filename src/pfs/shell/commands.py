"""The shell's commands, shared by one-shot ``pfs <cmd>`` and the ``pfs sh`` REPL.

Each command is a function ``(ctx, args)`` plus an argparse parser; it writes its output to
``ctx.out`` and lets ``pfs.fs.errors`` exceptions propagate (the caller prints them in one line).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pfs.client import AlreadyExists, FileInfo, FSError, InvalidArgument, NotFound
from pfs.client._base import CHUNK_SIZE, walkable
from pfs.fs.errors import NotSupported
from pfs.shell import formatting as fmt
from pfs.shell.context import LOCAL_PREFIX, Context, ExitShell, UnknownCommand, UsageError
from pfs.shell.progress import transfer_progress


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so the REPL survives bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _HelpShown()


class _HelpShown(Exception):
    """``-h`` was given: help is printed, nothing else runs."""


@dataclass
class Command:
    name: str
    run: Callable[[Context, argparse.Namespace], None]
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    repl_only: bool = False

    def parser(self) -> Parser:
        parser = Parser(prog=self.name, description=self.help, add_help=True)
        self.configure(parser)
        return parser


COMMANDS: dict[str, Command] = {}
ALIASES = {"?": "help", "quit": "exit"}


def command(name: str, help: str, *, repl_only: bool = False):
    def register(run):
        configure = getattr(run, "_configure", lambda parser: None)
        COMMANDS[name] = Command(name, run, help, configure, repl_only)
        return run

    return register


def args(configure: Callable[[argparse.ArgumentParser], None]):
    """Attach an argparse set-up to a command function (applied before ``@command``)."""

    def attach(run):
        run._configure = configure
        return run

    return attach


def run_command(ctx: Context, argv: list[str]) -> None:
    """Parse ``argv`` (command name first) and run it."""
    name = ALIASES.get(argv[0], argv[0])
    cmd = COMMANDS.get(name)
    if cmd is None or (cmd.repl_only and not ctx.interactive):
        raise UnknownCommand(f"Unknown command: {argv[0]}")
    parser = cmd.parser()
    try:
        namespace = parser.parse_args(argv[1:])
    except _HelpShown:
        ctx.write(parser.format_help().encode())
        return
    cmd.run(ctx, namespace)


# Helpers.


def has_glob(path: str) -> bool:
    return any(ch in posixpath.basename(path) for ch in "*?[")


def expand(ctx: Context, paths: list[str], *, reading: bool = False) -> list[str]:
    """Resolve each path; ``*``/``?`` in the last component expand against the parent listing.

    For a command that reads the files (``reading``), a pattern never matches a file whose read
    has an effect or a write-only one (``cat /queuefs/jobs/*`` must not take a message); naming
    such a file outright still reads it.
    """
    result = []
    for raw in paths:
        path = ctx.resolve(raw)
        if not has_glob(path):
            result.append(path)
            continue
        parent, pattern = posixpath.split(path)
        entries = ctx.client.ls(parent)
        if reading:
            entries = walkable(entries)
        names = sorted(e.name for e in entries if fnmatch.fnmatchcase(e.name, pattern))
        if not names:
            raise NotFound(f"no match: {raw}")
        result.extend(posixpath.join(parent, name) for name in names)
    return result


def is_remote_dir(ctx: Context, path: str) -> bool:
    try:
        return ctx.client.stat(path).is_dir
    except NotFound:
        return False


def into_dir(ctx: Context, src: str, dst: str, dst_raw: str) -> str:
    """``cp a /dir`` means ``/dir/a`` when /dir is a directory (or written with a trailing /)."""
    if dst_raw.endswith("/") or is_remote_dir(ctx, dst):
        return posixpath.join(dst, posixpath.basename(src.rstrip("/")))
    return dst


def dump_json(ctx: Context, value: Any) -> None:
    ctx.echo(json.dumps(value, indent=2, ensure_ascii=False))


def piped_bytes(ctx: Context) -> bytes:
    """Input of a filter (cat, tee, grep) as bytes: piped data or a ``< file``."""
    if ctx.stdin is None or isinstance(ctx.stdin, bytes):
        return ctx.stdin or b""
    return ctx.stdin.read()


def stdin_chunks(ctx: Context, streaming: bool) -> Any:
    """What ``write`` sends: piped REPL data, a ``< file``, or stdin chunk by chunk."""
    if ctx.stdin is not None:
        return ctx.stdin
    if ctx.interactive:
        raise UsageError("no data: give the text as arguments or pipe into the command")
    source = sys.stdin.buffer
    # --stream hands over whatever arrived (read1) so a live producer is not held back.
    read = source.read1 if streaming else source.read

    def chunks() -> Iterator[bytes]:
        while chunk := read(CHUNK_SIZE):
            yield chunk

    return chunks()


def print_message(ctx: Context, message: str) -> None:
    if ctx.json:
        dump_json(ctx, {"message": message})
    elif message:
        ctx.echo(message)


# Listing and reading.


def _ls_configure(p):
    p.add_argument("paths", nargs="*", default=["."])
    p.add_argument("-l", "--long", action="store_true", help="long format (the default)")
    p.add_argument("-1", dest="names_only", action="store_true", help="names only")


@command("ls", "List a directory: mode, size, modification time and name")
@args(_ls_configure)
def ls(ctx: Context, ns: argparse.Namespace) -> None:
    targets = expand(ctx, ns.paths)
    for index, path in enumerate(targets):
        try:
            entries = ctx.client.ls(path)
        except FSError as exc:
            # ls of a file shows the file, like ls(1)
            try:
                info = ctx.client.stat(path)
            except FSError:
                raise exc from None
            if info.is_dir:
                raise
            info.name = posixpath.basename(path)
            entries = [info]
        if ctx.json:
            dump_json(ctx, [fmt.info_json(e) for e in entries])
            continue
        if len(targets) > 1:
            ctx.echo(("\n" if index else "") + f"{path}:")
        for entry in fmt.sort_entries(entries):
            if ns.names_only:
                ctx.echo(fmt.display_name(entry, ctx.color))
            else:
                ctx.echo(fmt.ls_line(entry, ctx.color))


def _tree_configure(p):
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("-L", "--level", type=int, default=None, help="descend at most N levels")


@command("tree", "Show a directory tree with sizes")
@args(_tree_configure)
def tree(ctx: Context, ns: argparse.Namespace) -> None:
    root = ctx.resolve(ns.path)
    counts = {"dirs": 0, "files": 0}

    def walk(path: str, prefix: str, depth: int) -> Iterator[str]:
        entries = sorted(ctx.client.ls(path), key=lambda e: e.name)
        for i, entry in enumerate(entries):
            last = i == len(entries) - 1
            branch = "└── " if last else "├── "
            if entry.is_dir:
                counts["dirs"] += 1
                yield f"{prefix}{branch}{fmt.display_name(entry, ctx.color)}"
                if ns.level is None or depth < ns.level:
                    yield from walk(
                        posixpath.join(path, entry.name),
                        prefix + ("    " if last else "│   "),
                        depth + 1,
                    )
            else:
                counts["files"] += 1
                yield f"{prefix}{branch}{entry.name} ({fmt.human_size(entry.size)})"

    ctx.echo(root)
    for line in walk(root, "", 1):
        ctx.echo(line)
    ctx.echo(f"\n{counts['dirs']} directories, {counts['files']} files")


def _cat_configure(p):
    p.add_argument("paths", nargs="*")
    p.add_argument("--stream", action="store_true", help="follow a live stream (?stream=true)")


@command("cat", "Print files (or piped input)")
@args(_cat_configure)
def cat(ctx: Context, ns: argparse.Namespace) -> None:
    if not ns.paths:
        if ctx.stdin is None:
            raise UsageError("cat: a path is required")
        ctx.write(piped_bytes(ctx))
        return
    last = b""
    for path in expand(ctx, ns.paths, reading=True):
        with no_stall_limit(ctx, ns.stream):
            for chunk in ctx.client.iter_cat(path, stream=ns.stream, chunk_size=None):
                ctx.write(chunk)
                if ns.stream:
                    ctx.flush()
                last = chunk or last
    # On a terminal keep the prompt on its own line; files and pipes get the bytes unchanged.
    if ctx.terminal and last and not last.endswith(b"\n"):
        ctx.write(b"\n")


@contextmanager
def no_stall_limit(ctx: Context, live: bool) -> Iterator[None]:
    """Following a live stream may wait as long as its writer is quiet (Ctrl-C ends it)."""
    saved = ctx.client.stall_timeout
    if live:
        ctx.client.stall_timeout = None
    try:
        yield
    finally:
        ctx.client.stall_timeout = saved


def _tail_configure(p):
    p.add_argument("path")
    p.add_argument("-n", "--lines", type=int, default=10)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what is appended")


@command("tail", "Print the last lines of a file (-f follows it)")
@args(_tail_configure)
def tail(ctx: Context, ns: argparse.Namespace) -> None:
    path = ctx.resolve(ns.path)
    info = ctx.client.stat(path)
    if info.is_dir:
        raise FSError(f"is a directory: {path}")
    window = 8192
    while True:
        start = max(0, info.size - window)
        data = ctx.client.cat(path, start, info.size - start)
        if start == 0 or data.count(b"\n") > ns.lines:
            break
        window *= 4
    lines = data.splitlines(keepends=True)[-ns.lines :] if ns.lines > 0 else []
    ctx.write(b"".join(lines))
    ctx.flush()
    if not ns.follow:
        return
    offset = info.size
    delay = 0.2
    while True:
        time.sleep(delay)
        size = ctx.client.stat(path).size
        if size > offset:
            ctx.write(ctx.client.cat(path, offset, size - offset))
            ctx.flush()
            offset, delay = size, 0.2
        else:
            offset = min(offset, size)
            delay = min(delay * 1.5, 2.0)


def _stat_configure(p):
    p.add_argument("paths", nargs="+")


@command("stat", "Show a file's metadata")
@args(_stat_configure)
def stat(ctx: Context, ns: argparse.Namespace) -> None:
    for path in expand(ctx, ns.paths):
        info = ctx.client.stat(path)
        if ctx.json:
            dump_json(ctx, fmt.info_json(info))
        else:
            for line in fmt.stat_lines(path, info):
                ctx.echo(line)


# Writing.


def _write_configure(p):
    p.add_argument("path")
    p.add_argument("data", nargs="*", help="text to write (joined by spaces); stdin when absent")
    p.add_argument("--stream", action="store_true", help="stream stdin in one chunked PUT")
    p.add_argument("-a", "--append", action="store_true", help="append instead of replacing")


@command("write", "Write text (or stdin) to a file")
@args(_write_configure)
def write(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.stream and ctx.interactive:
        raise UsageError("write --stream is not available in the shell; use `pfs write --stream`")
    path = ctx.resolve(ns.path)
    data = " ".join(ns.data).encode() if ns.data else stdin_chunks(ctx, ns.stream)
    flags = ["append", "create"] if ns.append else None
    print_message(ctx, ctx.client.write(path, data, flags=flags))


def _echo_configure(p):
    p.add_argument("words", nargs="*")
    p.add_argument("-n", dest="no_newline", action="store_true", help="no trailing newline")


@command("echo", "Print text (use with > and >> to write files)", repl_only=True)
@args(_echo_configure)
def echo(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.write(" ".join(ns.words).encode() + (b"" if ns.no_newline else b"\n"))


def _tee_configure(p):
    p.add_argument("paths", nargs="+")
    p.add_argument("-a", "--append", action="store_true")


@command("tee", "Write piped input to files and pass it on", repl_only=True)
@args(_tee_configure)
def tee(ctx: Context, ns: argparse.Namespace) -> None:
    data = piped_bytes(ctx)
    for path in (ctx.resolve(p) for p in ns.paths):
        append_or_write(ctx, path, data, ns.append)
    ctx.write(data)


def append_or_write(ctx: Context, path: str, data: bytes, append: bool) -> str:
    """Write ``data``; with ``append`` add it at the end (read+concat+write where unsupported)."""
    if not append:
        return ctx.client.write(path, data)
    try:
        return ctx.client.write(path, data, flags=["append", "create"])
    except (InvalidArgument, NotSupported):
        # the plugin has no append: do what the original shell did, read + concatenate + write
        existing = ctx.client.cat(path) if ctx.client.exists(path) else b""
        return ctx.client.write(path, existing + data)


def _touch_configure(p):
    p.add_argument("paths", nargs="+")


@command("touch", "Create empty files (existing files are left alone)")
@args(_touch_configure)
def touch(ctx: Context, ns: argparse.Namespace) -> None:
    for path in (ctx.resolve(p) for p in ns.paths):
        try:
            ctx.client.create(path)
        except AlreadyExists:
            pass


def _mkdir_configure(p):
    p.add_argument("paths", nargs="+")
    p.add_argument("-p", "--parents", action="store_true", help="create parents, accept existing")
    p.add_argument("-m", "--mode", default="755", help="octal mode (default 755)")


@command("mkdir", "Create directories")
@args(_mkdir_configure)
def mkdir(ctx: Context, ns: argparse.Namespace) -> None:
    for path in (ctx.resolve(p) for p in ns.paths):
        ctx.client.mkdir(path, ns.mode, parents=ns.parents)


def _rm_configure(p):
    p.add_argument("paths", nargs="+")
    p.add_argument("-r", "-R", "--recursive", action="store_true")
    p.add_argument("-f", "--force", action="store_true", help="ignore missing files")


@command("rm", "Remove files (-r: directories and their contents)")
@args(_rm_configure)
def rm(ctx: Context, ns: argparse.Namespace) -> None:
    try:
        paths = expand(ctx, ns.paths)
    except NotFound:
        if ns.force:
            return
        raise
    for path in paths:
        try:
            ctx.client.rm(path, recursive=ns.recursive)
        except NotFound:
            if not ns.force:
                raise
            continue
        if ctx.interactive:
            ctx.echo(f"  removed '{path}'")


def _mv_configure(p):
    p.add_argument("paths", nargs="+", metavar="src… dst")


@command("mv", "Move or rename within one mount")
@args(_mv_configure)
def mv(ctx: Context, ns: argparse.Namespace) -> None:
    if len(ns.paths) < 2:
        raise UsageError("mv: needs a source and a destination")
    dst_raw = ns.paths[-1]
    dst = ctx.resolve(dst_raw)
    sources = expand(ctx, ns.paths[:-1])
    if len(sources) > 1 and not is_remote_dir(ctx, dst):
        raise UsageError(f"mv: target '{dst_raw}' is not a directory")
    for src in sources:
        ctx.client.mv(src, into_dir(ctx, src, dst, dst_raw))


def _chmod_configure(p):
    p.add_argument("mode", help="octal mode, e.g. 644")
    p.add_argument("paths", nargs="+")


@command("chmod", "Change permissions (octal mode)")
@args(_chmod_configure)
def chmod(ctx: Context, ns: argparse.Namespace) -> None:
    try:
        mode = int(ns.mode, 8)
    except ValueError:
        raise UsageError(f"chmod: invalid mode: {ns.mode}") from None
    for path in expand(ctx, ns.paths):
        ctx.client.chmod(path, mode)
        if ctx.interactive:
            ctx.echo(f"  changed mode of '{path}' to {mode:o}")


# Transfers.


def _cp_configure(p):
    p.add_argument("paths", nargs="+", metavar="src… dst")
    p.add_argument("-r", "-R", "--recursive", action="store_true")


@command("cp", "Copy PFS→PFS, local→PFS or PFS→local (local paths: local:<path>)")
@args(_cp_configure)
def cp(ctx: Context, ns: argparse.Namespace) -> None:
    if len(ns.paths) < 2:
        raise UsageError("cp: needs a source and a destination")
    *sources, dst_raw = ns.paths
    with transfer_progress(ctx.progress) as progress:
        for src_raw in sources:
            copy_one(ctx, src_raw, dst_raw, ns.recursive, progress)


def local_path(raw: str) -> Path:
    return Path(os.path.expanduser(raw.removeprefix(LOCAL_PREFIX)))


def copy_one(ctx: Context, src_raw: str, dst_raw: str, recursive: bool, progress) -> None:
    src_local, dst_local = ctx.is_local(src_raw), ctx.is_local(dst_raw)
    if src_local and dst_local:
        raise UsageError("cp: both paths are local; use cp(1)")
    if src_local:
        src = local_path(src_raw)
        dst = into_dir(ctx, src.name, ctx.resolve(dst_raw), dst_raw)
        sent = ctx.client.upload(src, dst, recursive=recursive, progress=progress)
        report(ctx, f"Uploaded {src} -> {dst} ({sent} bytes)")
    elif dst_local:
        src = ctx.resolve(src_raw)
        dst = local_path(dst_raw)
        if dst.is_dir():
            dst = dst / posixpath.basename(src)
        got = ctx.client.download(src, dst, recursive=recursive, progress=progress)
        report(ctx, f"Downloaded {src} -> {dst} ({got} bytes)")
    else:
        for src in expand(ctx, [src_raw], reading=True):
            dst = into_dir(ctx, src, ctx.resolve(dst_raw), dst_raw)
            copied = ctx.client.copy(src, dst, recursive=recursive, progress=progress)
            if ctx.interactive or ctx.json:
                report(ctx, f"Copied {src} -> {dst} ({copied} bytes)")


def report(ctx: Context, text: str) -> None:
    if ctx.json:
        dump_json(ctx, {"message": text})
    else:
        ctx.echo(text)


def _transfer(
    source: str, target: str, resumable: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """The arguments of upload and download: a source, a target, ``-r`` (and ``-c``)."""

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument(source)
        p.add_argument(target)
        p.add_argument("-r", "-R", "--recursive", action="store_true")
        if resumable:
            p.add_argument(
                "-c",
                "--continue",
                dest="resume",
                action="store_true",
                help="resume an interrupted download from its .NAME.pfs-partial file",
            )

    return configure


@command("upload", "Upload a local file or directory (-r)")
@args(_transfer("local", "remote"))
def upload(ctx: Context, ns: argparse.Namespace) -> None:
    src = local_path(ns.local)
    dst = into_dir(ctx, src.name, ctx.resolve(ns.remote), ns.remote)
    with transfer_progress(ctx.progress) as progress:
        sent = ctx.client.upload(src, dst, recursive=ns.recursive, progress=progress)
    report(ctx, f"Uploaded {src} -> {dst} ({sent} bytes)")


@command("download", "Download a file or directory (-r) to the local disk (-c resumes)")
@args(_transfer("remote", "local", resumable=True))
def download(ctx: Context, ns: argparse.Namespace) -> None:
    src = ctx.resolve(ns.remote)
    dst = local_path(ns.local)
    if dst.is_dir():
        dst = dst / (posixpath.basename(src) or "root")
    with transfer_progress(ctx.progress) as progress:
        got = ctx.client.download(
            src, dst, recursive=ns.recursive, resume=ns.resume, progress=progress
        )
    report(ctx, f"Downloaded {src} -> {dst} ({got} bytes)")


# Search and digests.


def _grep_configure(p):
    p.add_argument("pattern")
    p.add_argument("path", nargs="?")
    p.add_argument("-r", "-R", "--recursive", action="store_true")
    p.add_argument("-i", "--ignore-case", action="store_true")
    p.add_argument("-c", "--count", action="store_true", help="print only the number of matches")
    p.add_argument("-v", "--invert", action="store_true", help="(piped input) non-matching lines")
    p.add_argument("--stream", action="store_true", help="print matches as the server finds them")


@command("grep", "Search files with a regular expression (RE2 syntax)")
@args(_grep_configure)
def grep(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.path is None:
        if ctx.stdin is None:
            raise UsageError("grep: a path is required")
        filter_lines(ctx, ns)
        return
    paths = expand(ctx, [ns.path], reading=True)
    matches: list[dict[str, Any]] = []
    for path in paths:
        if ns.stream and not ctx.json and not ns.count:
            for item in ctx.client.iter_grep(path, ns.pattern, ns.recursive, ns.ignore_case):
                if item.get("type") == "summary":
                    matches.extend([{}] * item.get("count", 0))
                    continue
                ctx.echo(f"{item['file']}:{item['line']}:{item['content']}")
                ctx.flush()
            continue
        result = ctx.client.grep(path, ns.pattern, ns.recursive, ns.ignore_case)
        matches.extend(result["matches"])
        if not ns.count and not ctx.json:
            for m in result["matches"]:
                ctx.echo(f"{m['file']}:{m['line']}:{m['content']}")
    if ctx.json:
        dump_json(ctx, {"matches": matches, "count": len(matches)})
    elif ns.count:
        ctx.echo(str(len(matches)))
    elif ctx.terminal:
        ctx.echo(f"Found {len(matches)} match(es)")


def filter_lines(ctx: Context, ns: argparse.Namespace) -> None:
    import re

    regex = re.compile(ns.pattern, re.IGNORECASE if ns.ignore_case else 0)
    text = piped_bytes(ctx).decode(errors="replace")
    selected = [line for line in text.splitlines() if bool(regex.search(line)) != ns.invert]
    if ns.count:
        ctx.echo(str(len(selected)))
    else:
        for line in selected:
            ctx.echo(line)


def _digest_configure(p):
    p.add_argument("paths", nargs="+")
    p.add_argument("-a", "--algorithm", default="xxh3", choices=["xxh3", "md5"])


@command("digest", "Print a file's xxh3 (default) or md5 digest")
@args(_digest_configure)
def digest(ctx: Context, ns: argparse.Namespace) -> None:
    for path in expand(ctx, ns.paths, reading=True):
        value = ctx.client.digest(path, ns.algorithm)
        if ctx.json:
            dump_json(ctx, {"algorithm": ns.algorithm, "path": path, "digest": value})
        else:
            ctx.echo(f"{value}  {path}")


# Mounts, plugins, health.


@command("mounts", "List mounted plugins")
def mounts(ctx: Context, ns: argparse.Namespace) -> None:
    found = sorted(ctx.client.mounts(), key=lambda m: m.get("path", ""))
    if ctx.json:
        dump_json(ctx, found)
    elif not found:
        ctx.echo("No plugins mounted")
    else:
        for mount_info in found:
            ctx.echo(fmt.mount_line(mount_info))


def _mount_configure(p):
    p.add_argument("fstype")
    p.add_argument("path")
    p.add_argument("options", nargs="*", metavar="key=value")


@command("mount", "Mount a plugin: mount <fstype> <path> [key=value …]")
@args(_mount_configure)
def mount(ctx: Context, ns: argparse.Namespace) -> None:
    config: dict[str, Any] = {}
    for option in ns.options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise UsageError(f"mount: expected key=value, got '{option}'")
        config[key] = fmt.parse_config_value(value)
    message = ctx.client.mount(ns.fstype, ctx.resolve(ns.path), config)
    if ctx.json:
        dump_json(ctx, {"message": message})
    else:
        ctx.echo(f"  {message}")


def _unmount_configure(p):
    p.add_argument("path")


@command("unmount", "Unmount the plugin at a path")
@args(_unmount_configure)
def unmount(ctx: Context, ns: argparse.Namespace) -> None:
    path = ctx.resolve(ns.path)
    message = ctx.client.unmount(path)
    if ctx.json:
        dump_json(ctx, {"message": message})
    else:
        ctx.echo(f"Unmounted plugin at {path}")


def _plugins_configure(p):
    p.add_argument("action", nargs="?", default="list", choices=["list", "load", "unload"])
    p.add_argument("library", nargs="?", help="library path, http(s):// URL or pfs:// path")


@command("plugins", "List, load or unload external plugins")
@args(_plugins_configure)
def plugins(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.action == "list":
        loaded = ctx.client.plugins()
        if ctx.json:
            dump_json(ctx, loaded)
        elif not loaded:
            ctx.echo("No external plugins loaded")
        else:
            ctx.echo(f"Loaded external plugins ({len(loaded)}):")
            for path in loaded:
                ctx.echo(f"  {posixpath.basename(path)}  ({path})")
        return
    if not ns.library:
        raise UsageError(f"plugins {ns.action}: a library path is required")
    library = ns.library
    if "://" not in library and not library.startswith("/"):
        library = os.path.abspath(library)  # the server resolves paths in its own cwd
    if ns.action == "load":
        answer = ctx.client.load_plugin(library)
        if ctx.json:
            dump_json(ctx, answer)
            return
        ctx.echo(f"Loaded external plugin: {answer.get('plugin_name', '')}")
        ctx.echo(f"  Library: {library}")
        if answer.get("renamed"):
            ctx.echo(f"  Renamed from: {answer.get('original_name', '')}")
    else:
        message = ctx.client.unload_plugin(library)
        if ctx.json:
            dump_json(ctx, {"message": message})
        else:
            ctx.echo(f"Unloaded external plugin: {library}")


@command("health", "Check the server")
def health(ctx: Context, ns: argparse.Namespace) -> None:
    answer = ctx.client.health()
    if ctx.json:
        dump_json(ctx, answer)
    else:
        ctx.echo(
            f"{answer.get('status', '?')}: version={answer.get('version')}, "
            f"commit={answer.get('gitCommit')}, build={answer.get('buildTime')}"
        )


# REPL-only navigation.


def _cd_configure(p):
    p.add_argument("path", nargs="?", default="/")


@command("cd", "Change the current directory", repl_only=True)
@args(_cd_configure)
def cd(ctx: Context, ns: argparse.Namespace) -> None:
    path = ctx.resolve(ns.path)
    info = ctx.client.stat(path)
    if not info.is_dir:
        raise FSError(f"not a directory: {path}")
    ctx.cwd = path


def _watch_configure(p):
    p.add_argument("-n", "--interval", type=float, default=2.0, help="seconds between runs")
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="command …")


@command("watch", "Repeat a command every few seconds until Ctrl-C", repl_only=True)
@args(_watch_configure)
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


@command("pwd", "Print the current directory", repl_only=True)
def pwd(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.echo(ctx.cwd)


@command("clear", "Clear the screen", repl_only=True)
def clear(ctx: Context, ns: argparse.Namespace) -> None:
    ctx.write(b"\x1b[2J\x1b[H")


@command("exit", "Leave the shell", repl_only=True)
def exit_(ctx: Context, ns: argparse.Namespace) -> None:
    raise ExitShell()


def _help_configure(p):
    p.add_argument("topic", nargs="?")


@command("help", "List commands, or show one command's options")
@args(_help_configure)
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


def remote_names(ctx: Context, directory: str) -> list[FileInfo]:
    """Entries of a remote directory for tab completion (errors mean no completions)."""
    try:
        return ctx.client.ls(directory)
    except FSError:
        return []
