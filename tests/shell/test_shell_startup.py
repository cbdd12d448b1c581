"""One-shot ``pfs`` calls start fast: which modules the real command loads (``-X importtime``),
not how long it takes (no timed assertions). ``--version`` loads no client at all; ``ls`` loads
httpx without its command line (click, rich) and httpcore without trio."""

from __future__ import annotations

import os
import subprocess
import sys


def loaded_modules(*args: str, url: str = "http://127.0.0.1:9") -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pfs.shell.cli", *args],
        capture_output=True,
        text=True,
        # no profile file: yaml loads only to read one
        env={**os.environ, "PFS_API_URL": url, "PFS_CLIENT_CONFIG": "/nonexistent/client.yaml"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            self_us, _total, name = line.removeprefix("import time:").split("|")
            if self_us.strip().isdigit() and int(self_us) > 50:  # a failed import costs ~3 µs
                names.add(name.strip())
    return done.stdout, names


def test_version_loads_neither_the_client_nor_httpx():
    out, names = loaded_modules("--version")
    assert out.startswith("pfs, version pfs-cli ")
    assert not {"httpx", "pfs.client", "pfs.shell.commands", "yaml"} & names


def test_a_command_loads_httpx_without_its_cli_or_trio(server):
    out, names = loaded_modules("ls", "/", url=server.url)
    assert "memfs/" in out
    assert "httpx" in names and "pfs.client" in names  # the check can see what loads
    assert not {"click", "rich", "rich.console", "pygments", "trio", "yaml"} & names


def test_callers_in_a_bigger_process_keep_trio_available():
    code = (
        "import sys; from pfs.shell.cli import main\n"
        "assert main(['completion', 'bash']) == 0\n"
        "assert sys.modules.get('trio', 'absent') is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
