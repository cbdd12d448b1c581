"""Rich progress bars for transfers, shown only when output is a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pfs.client._base import ProgressCallback

#: Files smaller than this finish before a bar is worth drawing.
LARGE_FILE = 1024 * 1024


@contextmanager
def transfer_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A ``progress(name, done, total)`` callback drawing one bar per large file, or None."""
    if not enabled:
        yield None
        return
    # rich loads only when a bar can be shown, keeping one-shot commands quick to start
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bars = Progress(
        TextColumn("[bold]{task.description}", justify="right"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(),
    )
    tasks: dict[str, int] = {}

    def report(name: str, done: int, total: int | None) -> None:
        task = tasks.get(name)
        if task is None:
            if total is not None and total < LARGE_FILE:
                return
            task = tasks[name] = bars.add_task(name.rsplit("/", 1)[-1] or name, total=total)
        bars.update(task, completed=done)

    with bars:
        yield report
