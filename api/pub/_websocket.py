"""Websockets through pub: the same auth decision as HTTP, then frames pumped both ways."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ._headers import read_incoming
from ._proxy import JobCall, JobProxy, forward_headers
from ._responses import REQUEST_ID_KEY

__all__ = ["proxy_websocket"]

log = logging.getLogger("racetrack.pub")

_POLICY_VIOLATION = 1008
_TRY_AGAIN_LATER = 1013


async def proxy_websocket(proxy: JobProxy, scope: Scope, receive: Receive, send: Send, call: JobCall) -> None:
    request_id: str = scope[REQUEST_ID_KEY]
    incoming = read_incoming(scope["headers"], websocket=True)
    message = await receive()  # websocket.connect
    if message["type"] != "websocket.connect":
        return
    refusal = _Refusal(scope, send)
    decision = await proxy.authorize(call, incoming.token, request_id, refusal)
    if decision is None:
        await refusal.finish()
        return
    address, upstream_prefix = proxy.target(call, decision)
    url = f"ws://{address}{upstream_prefix}"
    if call.has_rest:
        url += "/" + call.rest
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    headers = forward_headers(
        scope,
        incoming.headers,
        host=incoming.host,
        forwarded_for=incoming.forwarded_for,
        forwarded_proto=incoming.forwarded_proto or (b"https" if scope.get("scheme") == "wss" else b"http"),
        request_id=request_id,
        caller=decision.caller,
    )
    try:
        upstream = await connect(
            url,
            additional_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            subprotocols=scope.get("subprotocols") or None,
            open_timeout=proxy._config.job_connect_timeout,
            max_size=None,
            compression=None,
            user_agent_header=None,
            proxy=None,  # jobs are reached directly, whatever proxy the environment names
        )
    except (TimeoutError, OSError, WebSocketException) as exc:
        reason = "the job refused the websocket" if isinstance(exc, InvalidStatus) else "connection refused"
        log.warning("websocket to %s failed: %r (request %s)", url, exc, request_id)
        await send(
            {"type": "websocket.close", "code": _TRY_AGAIN_LATER, "reason": f"Reverse proxy error: {reason}"}
        )
        return
    async with upstream:
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        to_job = asyncio.ensure_future(_client_to_job(receive, upstream))
        to_client = asyncio.ensure_future(_job_to_client(upstream, send))
        done, pending = await asyncio.wait({to_job, to_client}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("websocket %s ended with %r", request_id, task.exception())


async def _client_to_job(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            data = message.get("text")
            await upstream.send(data if data is not None else message.get("bytes") or b"")
        elif message["type"] == "websocket.disconnect":
            await upstream.close(code=message.get("code", 1000) or 1000)
            return


async def _job_to_client(upstream: ClientConnection, send: Send) -> None:
    try:
        async for data in upstream:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
    except ConnectionClosed:
        pass
    code = upstream.close_code or 1000
    await send({"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""})


class _Refusal:
    """Collects the JSON error `authorize` sends and turns it into a websocket refusal: an HTTP
    response where the server supports the `websocket.http.response` extension, else a close frame."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self._http = "websocket.http.response" in scope.get("extensions", {})
        self._send = send
        self._messages: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self._messages.append(message)

    async def finish(self) -> None:
        if self._http and self._messages:
            for message in self._messages:
                await self._send({**message, "type": message["type"].replace("http.", "websocket.http.", 1)})
            return
        await self._send(
            {"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": "Proxy request error"}
        )
