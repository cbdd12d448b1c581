"""Searching and digesting files: grep, digest."""

from __future__ import annotations

import argparse
from typing import Any

from pfs.shell.commands.common import dump_json, expand, piped_bytes
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
