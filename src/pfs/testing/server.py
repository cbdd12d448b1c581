"""Start a real ``pfs-server`` process on a free loopback port (for tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A running pfs-server; ``url`` is ``http://127.0.0.1:<port>`` (``https://`` with
    ``tls_ca``: the CA of the certificate its config's ``server.tls`` serves, which ``verify``
    then trusts)."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        wait: bool = True,
        discover_config: bool = False,
        cwd: str | Path | None = None,
        tls_ca: str | Path | None = None,
    ) -> None:
        self.port = port or free_port()
        #: What clients check the server's certificate with (httpx's ``verify``).
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(tls_ca)) if tls_ca else True
        )
        self.url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.port}"
        self.api = self.url + "/api/v1"
        self._dir = tempfile.TemporaryDirectory(prefix="pfs-test-")
        self.config_path = Path(self._dir.name) / "config.yaml"
        self.log_path = Path(self._dir.name) / "server.log"
        args = [sys.executable, "-m", "pfs.server.cli", "-addr", f"127.0.0.1:{self.port}"]
        if config is not None:
            self.config_path.write_text(yaml.safe_dump(config))
            args += ["-c", str(self.config_path)]
        elif not discover_config:
            # Hermetic: never a config file of the machine's (./pfs.yaml, ~/.config/pfs, /etc/pfs).
            args.append("--default-config")
        args += extra_args or []
        self._log = open(self.log_path, "wb")
        self._clients: list[httpx.Client] = []
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            cwd=cwd,
        )
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.close()  # a degraded server is still running: never leave it behind
                raise

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until every start-up mount is mounted; RuntimeError (with the failed mounts'
        errors and the log) if one failed or the server exited."""
        health = self.wait_up(timeout, settled=True)
        if health.get("degraded"):
            mounts = httpx.get(self.api + "/mounts", timeout=5, verify=self.verify).json()
            mounts = mounts["mounts"] or []
            failed = [f"{m['path']}: {m.get('error', '')}" for m in mounts
                      if m.get("status") == "failed"]
            raise RuntimeError(
                "pfs-server started degraded: " + "; ".join(failed) + "\n" + self.log()
            )

    def wait_up(self, timeout: float = 20.0, settled: bool = False) -> dict[str, Any]:
        """Wait until the server answers ``/health`` (with ``settled``: and no start-up mount
        is pending any more); its health answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pfs-server exited {self.proc.returncode}:\n{self.log()}")
            try:
                response = httpx.get(self.api + "/health", timeout=1, verify=self.verify)
                if response.status_code == 200:
                    health = response.json()
                    if not settled or not health.get("mounts", {}).get("pending"):
                        return health
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"pfs-server did not answer within {timeout}s:\n{self.log()}")

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the API (``base_url`` set), closed when the server stops."""
        client = httpx.Client(base_url=self.api, **kwargs)
        self._clients.append(client)
        return client

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def worker_pid(self) -> int:
        """The pid serving requests (Granian runs the app in a child of the main process)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            pids = children.read_text().split()
        except OSError:
            pids = []
        return int(pids[0]) if pids else self.proc.pid

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.worker_pid()}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        for client in self._clients:
            client.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
