"""Which optional part of the package (a pip extra) provides a module, for one-line hints:
``pip install pfs`` is the SDK, the shell and fsspec; the server and each back end are extras."""

from __future__ import annotations

#: Top-level module → the extra that installs it.
EXTRA_OF_MODULE = {
    "granian": "server",
    "uvloop": "server",
    "uvicorn": "server",
    "httptools": "server",
    "orjson": "server",
    "xxhash": "server",
    "re2": "server",
    "prometheus_client": "server",
    "aiobotocore": "s3",
    "asyncmy": "mysql",
    "asyncpg": "postgres",
    "redis": "redis",
    "nats": "nats",
    "wasmtime": "wasm",
    "pyfuse3": "fuse",
    "mcp": "mcp",
    "asyncinotify": "watch",
}


def install_hint(extra: str) -> str:
    return f"pip install 'pfs[{extra}]'"


def missing_extra(exc: ImportError) -> str | None:
    """The extra that would provide the module ``exc`` is about, if one does."""
    name = (exc.name or "").split(".")[0]
    return EXTRA_OF_MODULE.get(name)


def needs(what: str, exc: ImportError) -> str:
    """``"<what> needs the X extra (module y is missing): pip install 'pfs[X]'"``, or the plain
    import error when no extra provides the module."""
    extra = missing_extra(exc)
    if extra is None:
        return f"{what} cannot be loaded: {exc}"
    return f"{what} needs the {extra} extra ({exc.name} is missing): {install_hint(extra)}"
