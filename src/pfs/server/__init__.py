"""The HTTP server: an ASGI app over the mount table, its config and the pfs-server command."""
