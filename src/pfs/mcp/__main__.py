import sys

from pfs.mcp.cli import main

sys.exit(main())
