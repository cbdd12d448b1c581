"""What the shell tests (one-shot commands and the REPL) share."""

from __future__ import annotations

#: The mounts the shell tests work on.
SHELL_CONFIG = {
    "plugins": {
        "serverinfofs": {"enabled": True, "path": "/serverinfofs"},
        "memfs": {"enabled": True, "path": "/memfs"},
        "kvfs": {"enabled": True, "path": "/kvfs"},
        "queuefs": {"enabled": True, "path": "/queuefs"},
        "streamfs": {"enabled": True, "path": "/streamfs"},
    }
}
