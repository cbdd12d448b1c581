"""The ``pfs`` command: one-shot subcommands and the ``pfs sh`` REPL, built on ``pfs.client``."""
