"""Built-in plugins, one module each; they register through the ``pfs.plugins`` entry points."""
