"""FileInfo, the one shape every plugin answers ``stat`` and ``readdir`` with, and its wire form."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pfs.fs.gotime import format_rfc3339nano


@dataclass(slots=True)
class Meta:
    """Plugin-specific metadata; serialised with the original's capitalised keys.

    Plugins may share one Meta between many entries (listings of 100k files do): treat it as
    immutable once handed out.
    """

    name: str = ""
    type: str = ""
    content: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"Name": self.name, "Type": self.type, "Content": self.content}


class ReadEffect(enum.StrEnum):
    """What reading a file does besides returning bytes; walkers read only ``NONE`` files.

    A plugin declares it on the FileInfo of every ``stat`` and ``readdir`` answer, and it travels
    on the wire as ``readEffect`` (omitted for ``NONE``), so remote clients (FUSE, fsspec, the
    shell, proxyfs) skip such files too. A file marked ``CONSUMES`` must refuse partial reads
    (``offset``/``size``) with InvalidArgument rather than consume a message and return a part.
    """

    NONE = ""
    #: Reading takes data away (a queue's ``dequeue``).
    CONSUMES = "consumes"
    #: A read never ends on its own (a live stream).
    ENDLESS = "endless"


@dataclass(slots=True)
class FileInfo:
    """What ``stat`` returns for one entry.

    Args:
        name: base name (``/`` for a plugin's root; the mount table renames it at mount points).
        size: bytes; 0 for directories.
        mode: permission bits (plus Go type bits for localfs), as a plain integer.
        mtime_ns: modification time, nanoseconds since the Unix epoch.
        is_dir: whether the entry is a directory.
        meta: plugin metadata.
        read_effect: what reading does besides returning bytes (see ReadEffect).
        version: a text the plugin renews with every write of the content, where mtime alone
            may not tell writes apart (coarse clocks, whole seconds) or means nothing (kvfs);
            the HTTP ETag is size and version (size and mtime without one). Never sent in JSON.
    """

    name: str
    size: int = 0
    mode: int = 0o644
    mtime_ns: int = field(default_factory=time.time_ns)
    is_dir: bool = False
    meta: Meta = field(default_factory=Meta)
    read_effect: ReadEffect = ReadEffect.NONE
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        meta = self.meta
        obj = {
            "name": self.name,
            "size": self.size,
            "mode": self.mode,
            "modTime": format_rfc3339nano(self.mtime_ns),
            "isDir": self.is_dir,
            "meta": {"Name": meta.name, "Type": meta.type, "Content": meta.content},
        }
        if self.read_effect:
            obj["readEffect"] = self.read_effect.value
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FileInfo:
        meta = obj.get("meta") or {}
        return cls(
            name=obj.get("name", ""),
            size=int(obj.get("size", 0)),
            mode=int(obj.get("mode", 0)),
            mtime_ns=parse_time_ns(obj.get("modTime", "")),
            is_dir=bool(obj.get("isDir", False)),
            meta=Meta(
                name=meta.get("Name", "") or "",
                type=meta.get("Type", "") or "",
                content=meta.get("Content"),
            ),
            read_effect=_read_effect(obj.get("readEffect")),
        )


def _read_effect(raw: Any) -> ReadEffect:
    """A peer's ``readEffect``; one this version does not know is treated as consuming, the
    cautious reading for a walker."""
    if not raw:
        return ReadEffect.NONE
    try:
        return ReadEffect(raw)
    except ValueError:
        return ReadEffect.CONSUMES


def parse_time_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp with up to nanosecond digits; 0 when unparsable."""
    if not text:
        return 0
    try:
        head, _, rest = text.partition(".")
        frac_digits = ""
        tail = ""
        if rest:
            i = 0
            while i < len(rest) and rest[i].isdigit():
                i += 1
            frac_digits, tail = rest[:i], rest[i:]
        else:
            for sep in ("Z", "+", "-"):
                pos = head.rfind(sep)
                if pos > 10:
                    head, tail = head[:pos], head[pos:]
                    break
        base = datetime.fromisoformat(head)
        if tail in ("Z", "z", ""):
            tz = UTC
        else:
            sign = 1 if tail[0] == "+" else -1
            hh, mm = tail[1:].split(":")
            tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
        whole = int(base.replace(tzinfo=tz).timestamp())
        frac = int((frac_digits + "000000000")[:9]) if frac_digits else 0
        return whole * 1_000_000_000 + frac
    except (ValueError, IndexError):
        return 0
