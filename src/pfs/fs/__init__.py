"""The contract between the server and plugins: FileSystem, FileInfo, errors, paths, config."""

from __future__ import annotations

from pfs.fs.base import (
    CHUNK_SIZE,
    REPLACE,
    WRITE_LIMIT,
    Buffered,
    FileSystem,
    WriteFlag,
    apply_write,
    byte_range,
    read_range,
)
from pfs.fs.config import Field, parse_size, validate_config
from pfs.fs.errors import *  # noqa: F403
from pfs.fs.errors import __all__ as _error_names
from pfs.fs.fileinfo import FileInfo, Meta, ReadEffect
from pfs.fs.handles import FileAdapter, FileHandle, OpenFlag
from pfs.fs.paths import normalize

__all__ = [
    "CHUNK_SIZE",
    "Buffered",
    "REPLACE",
    "WRITE_LIMIT",
    "Field",
    "FileAdapter",
    "FileHandle",
    "FileInfo",
    "FileSystem",
    "Meta",
    "OpenFlag",
    "ReadEffect",
    "WriteFlag",
    "apply_write",
    "byte_range",
    "normalize",
    "parse_size",
    "read_range",
    "validate_config",
    *_error_names,
]
