"""``pfs-server`` and ``python -m pfs.server``: the server, or a one-line hint when the ``server``
extra is not installed (``pip install pfs`` alone is the SDK and the shell)."""

from __future__ import annotations

import sys

from pfs.extras import needs


def main() -> int:
    try:
        from pfs.server.cli import main as run
    except ImportError as exc:
        print(f"pfs-server: {needs('the server', exc)}", file=sys.stderr)
        return 1
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
