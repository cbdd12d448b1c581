"""WebDAV (RFC 4918, class 1 and 2) over the whole namespace, on the API server's port.

A thin layer on the server's own HTTP pieces rather than a library: WsgiDAV is WSGI (every
request on a thread, calling back into the async mount table), asgi-webdav is a whole server
with its own accounts and providers. See the README's WebDAV section.
"""

from pfs.server.webdav.dispatch import WebDAV

__all__ = ["WebDAV"]
