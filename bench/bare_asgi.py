"""A second anchor: the thinnest possible ASGI app under Granian (what ASGI itself costs).

GET answers 1 KiB without touching the body; PUT reads the body first, as any write must.
"""

from __future__ import annotations

BODY = b"x" * 1024
ACK = b'{"message":""}\n'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BODY
    if scope["method"] == "PUT":
        while (await receive()).get("more_body"):
            pass
        body = ACK
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
