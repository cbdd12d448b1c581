"""Searching and digesting files: grep, digest."""

from __future__ import annotations

import argparse
from typing import Any

from pfs.client import InvalidArgument, IsADirectory
from pfs.shell.commands.common import dump_json, expand, is_remote_dir, piped_bytes
from pfs.shell.context import Context, UsageError


def grep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern")
    p.add_argument("path", nargs="?")
    p.add_argument("-r", "-R", "--recursive", action="store_true")
    p.add_argument("-i", "--ignore-case", action="store_true")
    p.add_argument("-c", "--count", action="store_true", help="print only the number of matches")
    p.add_argument("-v", "--invert", action="store_true", help="(piped input) non-matching lines")
    p.add_argument("--stream", action="store_true", help="print matches as the server finds them")


def grep(ctx: Context, ns: argparse.Namespace) -> None:
    if ns.path is None:
        if ctx.stdin is None:
            raise UsageError("grep: a path is required")
        _filter_lines(ctx, ns)
        return
    paths = expand(ctx, [ns.path], reading=True)
    matches: list[dict[str, Any]] = []
    for path in paths:
        try:
            matches.extend(_grep_one(ctx, path, ns))
        except InvalidArgument as exc:
            raise _directory_needs_r(ctx, path, ns) or exc from None
    if ctx.json:
        dump_json(ctx, {"matches": matches, "count": len(matches)})
    elif ns.count:
        ctx.echo(str(len(matches)))
    elif ctx.terminal:
        ctx.echo(f"Found {len(matches)} match(es)")


def _grep_one(ctx: Context, path: str, ns: argparse.Namespace) -> list[dict[str, Any]]:
    """Print the matches of one path (as the server finds them with ``--stream``)."""
    if ns.stream and not ctx.json and not ns.count:
        found: list[dict[str, Any]] = []
        for item in ctx.client.iter_grep(path, ns.pattern, ns.recursive, ns.ignore_case):
            if item.get("type") == "summary":
                found.extend([{}] * item.get("count", 0))
                continue
            ctx.echo(f"{item['file']}:{item['line']}:{item['content']}")
            ctx.flush()
        return found
    result = ctx.client.grep(path, ns.pattern, ns.recursive, ns.ignore_case)
    if not ns.count and not ctx.json:
        for m in result["matches"]:
            ctx.echo(f"{m['file']}:{m['line']}:{m['content']}")
    matches: list[dict[str, Any]] = result["matches"]
    return matches


def _directory_needs_r(ctx: Context, path: str, ns: argparse.Namespace) -> IsADirectory | None:
    """The server refuses a directory without ``recursive=true``, its query parameter; the shell
    names its own flag. Asked only once the server has refused (no extra request otherwise)."""
    if ns.recursive or not is_remote_dir(ctx, path):
        return None
    return IsADirectory(f"{path} is a directory (use -r)")


def _filter_lines(ctx: Context, ns: argparse.Namespace) -> None:
    import re

    regex = re.compile(ns.pattern, re.IGNORECASE if ns.ignore_case else 0)
    text = piped_bytes(ctx).decode(errors="replace")
    selected = [line for line in text.splitlines() if bool(regex.search(line)) != ns.invert]
    if ns.count:
        ctx.echo(str(len(selected)))
    else:
        for line in selected:
            ctx.echo(line)


def digest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+")
    p.add_argument("-a", "--algorithm", default="xxh3", choices=["xxh3", "md5"])


def digest(ctx: Context, ns: argparse.Namespace) -> None:
    for path in expand(ctx, ns.paths, reading=True):
        value = ctx.client.digest(path, ns.algorithm)
        if ctx.json:
            dump_json(ctx, {"algorithm": ns.algorithm, "path": path, "digest": value})
        else:
            ctx.echo(f"{value}  {path}")
