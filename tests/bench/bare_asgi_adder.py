"""The ceiling for a Python job on this machine: a bare ASGI app that only sums the numbers.

python -m tests.bench.bare_asgi_adder PORT
"""

from __future__ import annotations

import json
import sys


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    message = await receive()
    body = message.get("body", b"")
    while message.get("more_body"):
        message = await receive()
        body += message.get("body", b"")
    if scope["path"].endswith("/live"):
        result = b'{"live":true}'
    else:
        result = json.dumps(sum(json.loads(body)["numbers"])).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(result)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": result})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        lifespan="off",
    )
