"""Which build this is: the package version, and the git commit and build time when known
(``PFS_GIT_COMMIT``/``PFS_BUILD_TIME`` from a packager, else the commit of the git checkout the
package runs from, e.g. an editable install)."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from pfs import __version__


@functools.cache
def git_commit() -> str:
    """Asked once per process (a subprocess of a few milliseconds)."""
    if os.environ.get("PFS_GIT_COMMIT"):
        return os.environ["PFS_GIT_COMMIT"]
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    commit = done.stdout.strip()
    if done.returncode != 0 or not commit:
        return "unknown"
    # Only our own checkout counts, not a repository the package happens to be installed in.
    top = subprocess.run(["git", "-C", str(here), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, timeout=5).stdout.strip()
    return commit if top and (Path(top) / "src" / "pfs" / "version.py").exists() else "unknown"


def version_info() -> dict[str, str]:
    return {
        "version": __version__,
        "gitCommit": git_commit(),
        "buildTime": os.environ.get("PFS_BUILD_TIME", "unknown"),
    }
