"""Small raw-ASGI responses: pub's JSON errors (upstream format) and plain JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Send

__all__ = ["send_json", "send_error", "REQUEST_ID_KEY"]

# Where `ServerErrors` leaves the request id (the gateway's X-Request-Tracing-Id) in the ASGI scope.
REQUEST_ID_KEY = "racetrack.request_id"

_JSON = (b"content-type", b"application/json")


async def send_json(
    send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    raw = [_JSON, (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, message: str, request_id: str, **extra: Any) -> None:
    """Sends `{"error": message, "requestId": ..., **extra}`, upstream pub's error shape."""
    payload: dict[str, Any] = {"error": message, "requestId": request_id}
    payload.update({k: v for k, v in extra.items() if v is not None})
    await send_json(send, status, payload)
