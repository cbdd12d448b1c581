"""What the shell tests (one-shot commands and the REPL) share."""

from __future__ import annotations

import os
import re
import sys

import pexpect

# prompt_toolkit redraws with escape sequences; compare the text a user sees.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")

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


class Repl:
    """One ``pfs sh`` session in a pty; ``run`` types a line and returns what it printed."""

    def __init__(self, url: str, home: str, *args: str) -> None:
        env = {
            **os.environ,
            "PFS_API_URL": url,
            "HOME": home,
            "TERM": "xterm",
            # no cursor-position requests: pexpect is not a terminal that answers them
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "pfs.shell.cli", *args, "sh"],
            env=env,
            encoding="utf-8",
            timeout=60,
            dimensions=(50, 400),
            cwd=home,
        )
        self.cwd = "/"

    def start(self) -> str:
        self.child.expect(re.escape("pfs:/>"))
        return ANSI.sub("", self.child.before)

    def run(self, line: str, cwd: str | None = None) -> str:
        self.child.sendline(line)
        self.child.expect("\n")  # the accepted input line; output follows
        self.cwd = cwd or self.cwd
        self.child.expect(re.escape(f"pfs:{self.cwd}>"))
        return ANSI.sub("", self.child.before)

    def run_raw(self, line: str) -> str:
        """Like ``run`` but with the escape sequences (colours) kept."""
        self.child.sendline(line)
        self.child.expect("\n")
        self.child.expect(re.escape(f"pfs:{self.cwd}>"))
        return self.child.before

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.expect("Goodbye!")
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus == 0
