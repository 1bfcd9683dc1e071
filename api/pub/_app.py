"""The async-call service: the part of pub that stays in Python, behind the Go gateway.

The gateway (api/pub/gateway) authorises `/pub/async/new/...` like any job call and hands it here
with the internal token and the job's exact URL and version; task lookups come through it as they
are. This service listens on 127.0.0.1 only (a port the launcher picked), so callers never reach it
directly, and still checks the internal token on every new call: a job on the same host must not
start calls in someone else's name.

ServerErrors        unexpected exceptions -> 500 JSON with the request id, then re-raised
└── AsyncService    /pub/async/new/..., /pub/async/task/{id}/poll|status, /live, /ready, /metrics
"""

from __future__ import annotations

import logging
import uuid
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.protocol import REQUEST_TRACING_HEADER

from ._async import AsyncCalls, AsyncCallStore
from ._config import PubConfig
from ._metrics import CONTENT_TYPE_LATEST, PubMetrics
from ._responses import REQUEST_ID_KEY, send_error, send_json

__all__ = ["AsyncService", "ServerErrors", "create_app"]

log = logging.getLogger("racetrack.pub")

_TRACING_HEADER = REQUEST_TRACING_HEADER.lower().encode()
_ASYNC_NEW = (("/pub/async/new/job/", "job"), ("/pub/async/new/fatman/", "fatman"))
_TASK_PREFIX = "/pub/async/task/"
_LOCAL = {"/live", "/ready", "/metrics", "/pub/live", "/pub/ready", "/pub/metrics"}


class ServerErrors:
    """Answers 500 in pub's JSON format when something unexpected escapes, then re-raises so the
    server logs it. The request id is the gateway's (X-Request-Tracing-Id), so one call has one id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == _TRACING_HEADER:
                request_id = value.decode("latin-1")
                break
        scope = {**scope, REQUEST_ID_KEY: request_id or str(uuid.uuid4())}
        started = False

        async def track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, track)
        except Exception as exc:
            if not started:
                await send_error(
                    send, 500, f"Internal pub error: {exc.__class__.__name__}", scope[REQUEST_ID_KEY]
                )
            raise


class AsyncService:
    """Routes by path prefix and owns the HTTP clients of the async calls."""

    def __init__(self, config: PubConfig) -> None:
        self.config = config
        self.metrics = PubMetrics()
        self._ready = False

    async def startup(self) -> None:
        if self._ready:
            return
        config = self.config
        self.jobs = httpx.AsyncClient(
            timeout=httpx.Timeout(config.job_timeout, connect=config.job_connect_timeout),
            # A shared client must not keep one caller's cookies for the next: refuse them all.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
            trust_env=False,
        )
        for name in ("accept", "accept-encoding", "user-agent", "connection"):
            del self.jobs.headers[name]  # the caller's, as recorded, never httpx's defaults
        self.lifecycle = httpx.AsyncClient(
            timeout=httpx.Timeout(config.lifecycle_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=4.0),
            trust_env=False,
        )
        self.async_calls = AsyncCalls(config, self.jobs, AsyncCallStore(self.lifecycle, config), self.metrics)
        await self.async_calls.start()
        self._ready = True

    async def shutdown(self) -> None:
        if not self._ready:
            return
        self._ready = False
        await self.async_calls.stop()
        await self.jobs.aclose()
        await self.lifecycle.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        if not self._ready:
            await self.startup()
        path: str = scope["path"]
        request_id: str = scope[REQUEST_ID_KEY]
        if path in _LOCAL:
            await self._local(send, path.rsplit("/", 1)[1])
            return
        if path.startswith(_TASK_PREFIX):
            task_id, _, action = path[len(_TASK_PREFIX) :].partition("/")
            if action in ("poll", "poll/local"):
                await self.async_calls.poll(scope, send, task_id)
                return
            if action in ("status", "status/local"):
                await self.async_calls.status(scope, send, task_id)
                return
        for prefix, _job_kind in _ASYNC_NEW:
            if path.startswith(prefix):
                await self.async_calls.new(scope, receive, send, path[len(prefix) :])
                return
        await send_error(send, 404, f"Proxy request error: no pub endpoint at {path}", request_id)

    async def _local(self, send: Send, name: str) -> None:
        if name == "metrics":
            body = self.metrics.render()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif name == "live":
            await send_json(send, 200, {"live": True})
        else:
            await send_json(send, 200 if self._ready else 503, {"ready": self._ready})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(config: PubConfig) -> ServerErrors:
    """The async service's ASGI app; its `AsyncService` is reachable as `app.service`."""
    service = AsyncService(config)
    app = ServerErrors(service)
    app.service = service  # type: ignore[attr-defined]
    return app
