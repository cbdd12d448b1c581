"""HTTP pieces shared by the API server and the plugins, on no framework:

* ``requests``  – the request of an ASGI app (query, headers, a body read with limits)
* ``responses`` – whole, streamed, JSON, error and text answers; HEAD answers
* ``ranges``    – the ``Range`` header and its 206/416 answers
* ``client``    – a pooled HTTP/1.1 client on the event loop (proxyfs's outbound requests)

It imports the standard library, orjson, httptools and ``pfs.fs``; never the server or a plugin.
"""
