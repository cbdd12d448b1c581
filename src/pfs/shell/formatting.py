"""Text forms of server answers, as the original pfscli printed them."""

from __future__ import annotations

import stat as statmod
from datetime import datetime
from typing import Any

from pfs.client import FileInfo

BOLD_BLUE = "\x1b[1;34m"
RESET = "\x1b[0m"
SECRET_KEYS = {"secret_access_key", "password", "token"}


def is_link(info: FileInfo) -> bool:
    return info.meta.type == "symlink"


def mode_string(info: FileInfo) -> str:
    """``drwxr-xr-x``: the type letter (``l`` for a symlink) and the low nine permission bits."""
    kind = "l" if is_link(info) else "d" if info.is_dir else "-"
    return kind + statmod.filemode(info.mode & 0o777)[1:]


def local_time(mtime_ns: int) -> str:
    if mtime_ns <= 0:
        return "0001-01-01 00:00:00"
    return datetime.fromtimestamp(mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def display_name(info: FileInfo, color: bool) -> str:
    if not info.is_dir:
        return info.name
    name = info.name + "/"
    return f"{BOLD_BLUE}{name}{RESET}" if color else name


def sort_entries(entries: list[FileInfo]) -> list[FileInfo]:
    """Directories first, each group newest first (pfscli's order); same second: by name."""
    return sorted(entries, key=lambda e: (not e.is_dir, -(e.mtime_ns // 1_000_000_000), e.name))


def ls_line(info: FileInfo, color: bool = False, human: bool = False) -> str:
    size = 0 if info.is_dir else info.size
    shown = human_size(size) if human else str(size)
    line = f"{mode_string(info)} {shown:>8} {local_time(info.mtime_ns)} {display_name(info, color)}"
    if is_link(info) and info.meta.content and "target" in info.meta.content:
        line += f" -> {info.meta.content['target']}"  # as ls -l shows it
    return line


def human_size(size: int) -> str:
    """tree's sizes: ``512B``, ``1.5K``, ``3.0M``, ``1.2G``."""
    if size < 1024:
        return f"{size}B"
    for unit in ("K", "M", "G"):
        size /= 1024
        if size < 1024 or unit == "G":
            return f"{size:.1f}{unit}"
    return f"{size:.1f}G"


def stat_lines(path: str, info: FileInfo) -> list[str]:
    lines = [
        f"  File: {path}",
        f"  Type: {'Directory' if info.is_dir else 'File'}",
        f"  Size: {info.size}",
        f"  Mode: {info.mode:o}",
        f"  Modified: {local_time(info.mtime_ns)}",
        f"  Meta.Name: {info.meta.name}",
        f"  Meta.Type: {info.meta.type}",
    ]
    if info.meta.content:
        lines.append(f"  Meta.Content: {info.meta.content}")
    return lines


def info_json(info: FileInfo) -> dict[str, Any]:
    return info.to_json()


def mount_line(mount: dict[str, Any]) -> str:
    name = mount.get("pluginName", "?")
    parts = [f"plugin: {name}"]
    for key, value in sorted((mount.get("config") or {}).items()):
        text = "***" if key in SECRET_KEYS else str(value)
        if len(text) > 50:
            text = text[:47] + "..."
        parts.append(f"{key}={text}")
    return f"{name} on {mount.get('path', '?')} ({', '.join(parts)})"


def parse_config_value(text: str) -> Any:
    """``mount`` arguments ``k=v``: int, else float, else true/false, else the string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text
