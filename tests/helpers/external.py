"""Shared helpers for the external-plugin tests: build the example and test plugins with the real
compilers (gcc, clang + lld) into a temporary directory, and server configs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"
TEST_PLUGINS = ROOT / "tests" / "external" / "sources"

HELLO_C = b"Hello from C dynamic library!\n"
RFC3339_SECONDS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$"


def _make(*args: str) -> None:
    done = subprocess.run(["make", "-s", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"make {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def build_plugins(dest: Path) -> dict[str, Path]:
    """Compile every plugin the tests use; name → path of the built file."""
    built = {
        "hellofs-c": dest / "libhellofs-c.so",
        "hellofs-wasm": dest / "hellofs.wasm",
        "errfs": dest / "liberrfs.so",
        "clash": dest / "libclash.so",
        "errfs-ex": dest / "liberrfs-ex.so",
        "minimal": dest / "libminimal.so",
        "nonew": dest / "libnonew.so",
        "badwasm": dest / "badwasm.wasm",
        "agfswasm": dest / "agfswasm.wasm",
        "agfsfs": dest / "libagfsfs.so",
        "badfs": dest / "libbadfs.so",
        "slowload": dest / "libslowload.so",
        "agfsmemfs": dest / "libagfsmemfs.so",
    }
    _make("-C", str(EXAMPLES / "hellofs-c"), f"OUT={built['hellofs-c']}")
    _make("-C", str(EXAMPLES / "hellofs-wasm"), f"OUT={built['hellofs-wasm']}")
    _make("-C", str(TEST_PLUGINS), f"OUT_DIR={dest}")
    return built


_built: dict[str, Path] = {}


def built_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``build_plugins`` once per test session (each test module's fixture calls this)."""
    if not _built:
        _built.update(build_plugins(tmp_path_factory.mktemp("plugins")))
    return dict(_built)


def external_config(
    plugin_paths: list[Path | dict[str, str]] | None = None,
    mounts: dict[str, Any] | None = None,
    **external: Any,
) -> dict[str, Any]:
    section: dict[str, Any] = {"enabled": True, "allow_runtime_load": True, **external}
    if plugin_paths:
        section["plugin_paths"] = [p if isinstance(p, dict) else str(p) for p in plugin_paths]
    return {
        "external_plugins": section,
        "plugins": {"memfs": {"enabled": True, "path": "/memfs"}, **(mounts or {})},
    }
