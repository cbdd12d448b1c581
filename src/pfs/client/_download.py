"""Downloads that never look complete when cut short, and that can resume.

Bytes land in ``.NAME.pfs-partial`` beside the target and the file is renamed to ``NAME`` only
once the whole answer arrived (its size checked against ``Content-Length``, or the total of
``Content-Range`` for a resumed one). An interrupted download (Ctrl-C, a killed process, a
dropped connection) leaves only the partial file; ``resume`` continues it with a
``Range: bytes=<partial size>-`` request. The sync and async clients share this; only their loop
over the answer's chunks differs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pfs.client._base import ProgressCallback
from pfs.fs.errors import BadGateway, FSError
from pfs.fs.fileinfo import FileInfo

PARTIAL_SUFFIX = ".pfs-partial"


class IncompleteDownload(FSError):
    """The answer ended before the size the server announced; the partial file is kept."""


def partial_path(local: Path) -> Path:
    """``dir/NAME`` → ``dir/.NAME.pfs-partial``: same directory, so the final rename is atomic."""
    return local.with_name(f".{local.name}{PARTIAL_SUFFIX}")


def already_downloaded(local: Path, info: FileInfo, resume: bool) -> bool:
    """Resuming, a target already present with the remote size is taken as done (``wget -c``):
    a recursive download picks up where it stopped instead of fetching everything again."""
    try:
        return resume and local.stat().st_size == info.size
    except FileNotFoundError:
        return False


@dataclass(slots=True)
class PartialDownload:
    """One file being downloaded: where its bytes go and how many are already there."""

    remote_path: str
    local: Path
    partial: Path
    #: Bytes of ``partial`` kept from an earlier attempt (0: start over).
    offset: int
    #: The remote size from ``stat``, for progress bars.
    total: int

    @classmethod
    def plan(cls, remote_path: str, local: Path, info: FileInfo, resume: bool) -> PartialDownload:
        partial = partial_path(local)
        offset = 0
        # A file read whole (a queue's dequeue, a live stream) is refused ranges: start over.
        if resume and not info.read_effect:
            try:
                kept = partial.stat().st_size
            except FileNotFoundError:
                kept = 0
            # A partial larger than the remote file is not a prefix of it.
            offset = kept if kept <= info.size else 0
        return cls(remote_path, local, partial, offset, info.size)

    @property
    def needs_request(self) -> bool:
        """False when the kept part already has the remote size (cut just before the rename):
        a ranged request would only be answered 416."""
        return not (self.offset and self.offset == self.total)

    def headers(self) -> dict[str, str]:
        return {"Range": f"bytes={self.offset}-"} if self.offset else {}

    @contextmanager
    def receive(
        self, status: int, headers: Mapping[str, str], progress: ProgressCallback | None
    ) -> Iterator[Sink]:
        """The sink for the answer's body; on a clean exit the size is checked and the partial
        file becomes the target. On an error the partial file stays for ``resume``."""
        start, expected = self._start_and_size(status, headers)
        with open(self.partial, "r+b" if start else "wb") as file:
            file.seek(start)
            file.truncate()
            sink = Sink(file, self.remote_path, start, self.total, progress)
            if progress:
                progress(self.remote_path, start, self.total)
            yield sink
        self.finish(expected)

    def finish(self, expected: int | None = None) -> int:
        """Check the partial file's size and rename it to the target; returns the size."""
        size = self.partial.stat().st_size
        if expected is not None and size != expected:
            raise IncompleteDownload(
                f"download of {self.remote_path} stopped at {size} of {expected} bytes; "
                f"{self.partial} is kept (resume to continue)"
            )
        os.replace(self.partial, self.local)
        return size

    def _start_and_size(self, status: int, headers: Mapping[str, str]) -> tuple[int, int | None]:
        """Where the body goes in the partial file and the size the file then has in the end."""
        if self.offset and status == 206:
            first, total = _content_range(headers.get("content-range", ""))
            if first != self.offset:
                raise BadGateway(
                    f"asked {self.remote_path} from byte {self.offset}, "
                    f"the server answered from byte {first}"
                )
            return self.offset, total
        # A plain 200 (no range asked, or the server ignored it) carries the whole file.
        length = headers.get("content-length")
        return 0, int(length) if length is not None else None


class Sink:
    """Writes the body's chunks and reports progress after each."""

    def __init__(
        self,
        file: BinaryIO,
        name: str,
        done: int,
        total: int,
        progress: ProgressCallback | None,
    ) -> None:
        self._file = file
        self._name = name
        self._total = total
        self._progress = progress
        self.done = done

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.done += len(chunk)
        if self._progress:
            self._progress(self._name, self.done, self._total)


def _content_range(value: str) -> tuple[int, int]:
    """``bytes 100-199/200`` → (100, 200)."""
    unit, _, rest = value.partition(" ")
    span, _, total = rest.partition("/")
    first = span.partition("-")[0]
    if unit != "bytes" or not first.isdigit() or not total.isdigit():
        raise BadGateway(f"206 answer with an unusable Content-Range: {value!r}")
    return int(first), int(total)
