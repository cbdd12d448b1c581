"""``pfs-server --check-config``: validate the config, then say for each mount whether its state
is shared (kept in an engine every server with this config reaches: a database server, a bucket,
another PFS) or per-server (in this process or on this machine: memfs, streamfs, memory queues,
localfs, SQLite files). Plugins declare it (``FileSystem.shares_state``); the server never
guesses from a plugin's name."""

from __future__ import annotations

from typing import TextIO

from pfs.fs.errors import FSError
from pfs.server.mounting import DEVFS_PATH
from pfs.server.state import State


def check_config(state: State, source: str, out: TextIO) -> int:
    """Print the report to ``out``; 0 when every mount's config is valid, else 2."""
    settings, mounting = state.settings, state.mounting
    entries = [(m["fstype"], m["path"], m["config"]) for m in settings.mounts]
    if settings.devfs and "devfs" in mounting.registry:
        entries.append(("devfs", DEVFS_PATH, {}))
    rows: list[tuple[str, str, str, str]] = []
    failed = False
    for fstype, path, config in sorted(entries, key=lambda e: e[1]):
        if fstype not in mounting.registry:
            rows.append((path, fstype, "per-server", "external plugin, checked when loaded"))
            continue
        try:
            factory, validated, _ = mounting.prepare(fstype, path, config)
        except FSError as exc:
            rows.append((path, fstype, "invalid", exc.message))
            failed = True
            continue
        backend = validated.get("backend")
        note = f"backend {backend}" if isinstance(backend, str) else ""
        rows.append((path, fstype, "shared" if factory.shares_state(validated) else "per-server",
                     note))
    print(f"config: {source}", file=out)
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]).rstrip(), file=out)
    shared = sum(row[2] == "shared" for row in rows)
    per_server = sum(row[2] == "per-server" for row in rows)
    print(f"{len(rows)} mounts: {shared} shared, {per_server} per-server"
          + (", some invalid" if failed else ""), file=out)
    return 2 if failed else 0
