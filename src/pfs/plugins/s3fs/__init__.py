"""s3fs: an S3 bucket as a file tree (see ``plugin.py``)."""

from __future__ import annotations

from pfs.plugins.s3fs.plugin import S3FS

__all__ = ["S3FS"]
