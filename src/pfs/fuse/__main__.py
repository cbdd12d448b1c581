import sys

from pfs.fuse.cli import main

sys.exit(main())
