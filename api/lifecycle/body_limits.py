"""Every lifecycle route has a request body limit; a larger body gets a 413 that says the limit.

A declared `Content-Length` over the limit is refused before anything is read; a body sent without one
(chunked) is counted while the route reads it and refused as soon as it passes the limit, so no route
ever holds more than its limit in memory. FastAPI's own `max_body_size` does the counting too, but
answers a plain-text "Content Too Large" that neither follows the API's `{"error", "type"}` format nor
says what would be accepted.

Limits: uploads of a job's folder (`POST /deploy`, `/deploy/preview`) `RACETRACK_MAX_DEPLOY_BODY`;
plugin ZIPs their own maximum; pub's async-call records (which carry a call's body or a job's answer,
base64) what `RACETRACK_MAX_ASYNC_BODY` needs; everything else `RACETRACK_MAX_REQUEST_BODY`.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.lifecycle.routes.plugins import MAX_PLUGIN_BYTES
from api.settings import Settings

__all__ = ["BodyLimits", "body_limit", "base64_size"]

_MIB = 1024 * 1024


def base64_size(raw: int) -> int:
    return 4 * ((raw + 2) // 3)


def body_limit(settings: Settings, api_prefix: str, method: str, path: str) -> int:
    """The largest request body accepted by `method path`."""
    route = path[len(api_prefix) :] if path.startswith(api_prefix) else ""
    if method == "POST" and route in ("/deploy", "/deploy/preview"):
        return settings.max_deploy_body
    if method == "POST" and route.startswith("/plugin/upload"):
        return MAX_PLUGIN_BYTES + _MIB  # room for multipart framing
    if route.startswith("/job/async/call"):
        return base64_size(settings.max_async_body) + _MIB  # room for headers and the other fields
    return settings.max_request_body


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body too large: this route accepts at most {_size(limit)}")


def _size(limit: int) -> str:
    return f"{limit / _MIB:g} MiB ({limit} bytes)" if limit >= _MIB else f"{limit} bytes"


class BodyLimits:
    """ASGI middleware applying `body_limit` to every HTTP request."""

    def __init__(self, app: ASGIApp, *, settings: Settings, api_prefix: str) -> None:
        self.app = app
        self.settings = settings
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, self.api_prefix, scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, BodyTooLarge(limit))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # the app's error handlers answer it as any HTTP error
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside a route's error handling
            if started:
                raise
            await _refuse(send, exc)


async def _refuse(send: Send, exc: BodyTooLarge) -> None:
    body = json.dumps({"error": exc.detail, "type": "InvalidInput"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is not read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
