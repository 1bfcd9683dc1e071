"""Small pure-ASGI helpers: reading a body, sending a response, encoding results as JSON."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "Scope",
    "Receive",
    "Send",
    "read_body",
    "respond",
    "respond_json",
    "respond_error",
    "to_jsonable",
    "dumps",
    "split_job_prefix",
    "header_value",
    "StatusWatch",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

JSON_TYPE = b"application/json"


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON_TYPE,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
    return status


def to_jsonable(value: Any) -> Any:
    """Turns values json cannot encode (numpy, dataclasses, pydantic models, dates) into ones it can."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if hasattr(value, "model_dump"):  # pydantic v2
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (decimal.Decimal,)):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (uuid.UUID, bytes)):
        return value.hex() if isinstance(value, bytes) else str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"result of type {type(value).__name__} cannot be encoded as JSON")


_encoder = json.JSONEncoder(default=to_jsonable, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    return _encoder.encode(value).encode()


async def respond_json(
    send: Send, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> int:
    return await respond(send, status, dumps(value), JSON_TYPE, headers)


async def respond_error(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> int:
    return await respond(send, status, dumps({"error": message}), JSON_TYPE, headers)


def split_job_prefix(path: str) -> tuple[str, str]:
    """Splits `/pub/job/<name>/<version>/rest` into (`/pub/job/<name>/<version>`, `/rest`).

    Paths without the prefix (served at the root) give ("", path). The legacy `/pub/fatman/` prefix
    is accepted too.
    """
    if path.startswith("/pub/"):
        parts = path.split("/", 5)
        if len(parts) >= 5 and parts[2] in ("job", "fatman"):
            return "/".join(parts[:5]), ("/" + parts[5]) if len(parts) == 6 else ""
    return "", path


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (name in lower case)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class StatusWatch:
    """Wraps `send` to learn the status an ASGI app answered with (for metrics and logs)."""

    __slots__ = ("_send", "status", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 200
        self.started = False

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        await self._send(message)
