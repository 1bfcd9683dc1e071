"""The pub ASGI application: routing by path prefix, lifespan, health and metrics endpoints.

RequestTracing          X-Request-Tracing-Id: taken or generated, echoed on every response
└── ServerErrors        unexpected exceptions -> 500 JSON with the request id, then re-raised
    └── Pub             /pub/job/..., /pub/fatman/..., /pub/async/..., /live, /ready, /health, /metrics
"""

from __future__ import annotations

import logging
import uuid
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._async import AsyncCalls, AsyncCallStore
from ._auth import Authorizer
from ._config import PubConfig
from ._headers import TRACING_HEADER
from ._metrics import CONTENT_TYPE_LATEST, PubMetrics
from ._proxy import JobProxy, split_job_path
from ._responses import REQUEST_ID_KEY, send_error, send_json
from ._transport import PooledTransport
from ._websocket import proxy_websocket

__all__ = ["Pub", "RequestTracing", "ServerErrors", "create_app", "app_from_settings"]

log = logging.getLogger("racetrack.pub")

_JOB_KINDS = (("/pub/job/", "job"), ("/pub/fatman/", "fatman"))
_ASYNC_NEW = (("/pub/async/new/job/", "job"), ("/pub/async/new/fatman/", "fatman"))
_TASK_PREFIX = "/pub/async/task/"
_LOCAL = {"/live", "/ready", "/health", "/metrics", "/pub/live", "/pub/ready", "/pub/health", "/pub/metrics"}


class RequestTracing:
    """Gives every HTTP call and websocket a request id: the caller's X-Request-Tracing-Id or a new
    uuid4, stored in the scope under `REQUEST_ID_KEY` and added to the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == TRACING_HEADER:
                request_id = value.decode("latin-1")
                break
        if not request_id:
            request_id = str(uuid.uuid4())
        scope = {**scope, REQUEST_ID_KEY: request_id}
        echo = (TRACING_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in (
                "http.response.start",
                "websocket.http.response.start",
                "websocket.accept",
            ):
                message = {**message, "headers": [*message.get("headers", ()), echo]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class ServerErrors:
    """Answers 500 in pub's JSON format when something unexpected escapes, then re-raises so the
    server logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
                    send, 500, f"Internal pub error: {exc.__class__.__name__}", scope.get(REQUEST_ID_KEY, "")
                )
            raise


class Pub:
    """Routes calls by path prefix (no regex on the hot path) and owns the shared HTTP clients."""

    def __init__(self, config: PubConfig) -> None:
        self.config = config
        self.metrics = PubMetrics()
        self._ready = False
        self.jobs: httpx.AsyncClient | None = None
        self.lifecycle: httpx.AsyncClient | None = None

    async def startup(self) -> None:
        if self._ready:
            return
        config = self.config
        self.transport = PooledTransport(
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_keepalive_connections,
                keepalive_expiry=4.0,
            )
        )
        self.jobs = httpx.AsyncClient(
            timeout=httpx.Timeout(
                config.job_timeout, connect=config.job_connect_timeout, pool=config.job_connect_timeout
            ),
            # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them under us.
            transport=self.transport,
            # A shared client must not keep one caller's cookies for the next: refuse them all.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
            trust_env=False,
        )
        for name in ("accept", "accept-encoding", "user-agent", "connection"):
            del self.jobs.headers[name]  # forward the caller's, never httpx's defaults
        self.lifecycle = httpx.AsyncClient(
            timeout=httpx.Timeout(config.lifecycle_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=4.0),
            trust_env=False,
        )
        self.authorizer = Authorizer(config, self.lifecycle, self.metrics)
        self.proxy = JobProxy(config, self.transport, self.authorizer, self.metrics)
        self.async_calls = AsyncCalls(
            config, self.proxy, self.jobs, AsyncCallStore(self.lifecycle, config), self.metrics
        )
        await self.async_calls.start()
        self._ready = True

    async def shutdown(self) -> None:
        if not self._ready:
            return
        self._ready = False
        await self.async_calls.stop()
        if self.jobs is not None:
            await self.jobs.aclose()
        if self.lifecycle is not None:
            await self.lifecycle.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if not self._ready:
            await self.startup()
        path: str = scope["path"]
        if kind == "http":
            for prefix, job_kind in _JOB_KINDS:
                if path.startswith(prefix):
                    call = split_job_path(job_kind, path[len(prefix) :], _raw_rest(scope, prefix, path))
                    if call is None:
                        await _not_found(
                            scope,
                            send,
                            f"Proxy request error: Job was not found: give {prefix}<name>/<version>/<path>",
                        )
                        return
                    await self.proxy(scope, receive, send, call)
                    return
            await self._other(scope, receive, send, path)
        elif kind == "websocket":
            for prefix, job_kind in _JOB_KINDS:
                if path.startswith(prefix):
                    call = split_job_path(job_kind, path[len(prefix) :], _raw_rest(scope, prefix, path))
                    if call is not None:
                        await proxy_websocket(self.proxy, scope, receive, send, call)
                        return
            await send({"type": "websocket.close", "code": 1008, "reason": "no such job path"})

    async def _other(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
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
        for prefix, job_kind in _ASYNC_NEW:
            if path.startswith(prefix):
                call = split_job_path(job_kind, path[len(prefix) :], _raw_rest(scope, prefix, path))
                if call is not None:
                    await self.async_calls.new(scope, receive, send, call)
                    return
        await _not_found(scope, send, f"Proxy request error: no pub endpoint at {path}")

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
        elif name == "ready":
            await send_json(send, 200 if self._ready else 503, {"ready": self._ready})
        else:
            sidecar = self.config.sidecar
            await send_json(
                send,
                200,
                {
                    "service": "pub",
                    "live": True,
                    "ready": self._ready,
                    "mode": "sidecar" if sidecar else "gateway",
                    "sidecar_job": None
                    if sidecar is None
                    else {
                        "name": sidecar.job_name,
                        "version": sidecar.job_version,
                        "address": sidecar.address,
                    },
                    "instance": self.async_calls.instance_id,
                },
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _raw_rest(scope: Scope, prefix: str, path: str) -> str:
    """The still-encoded path after `prefix`, so a job receives exactly what the caller sent."""
    raw = scope.get("raw_path")
    if raw:
        text = raw.decode("latin-1")
        if text.startswith(prefix):
            return text[len(prefix) :]
    return quote(path[len(prefix) :], safe="/:@!$&'()*+,;=-._~")


async def _not_found(scope: Scope, send: Send, message: str) -> None:
    await send_error(send, 404, message, scope.get(REQUEST_ID_KEY, ""))


def create_app(config: PubConfig) -> RequestTracing:
    """Builds pub's middleware stack around a `Pub`; the `Pub` is reachable as `app.pub`."""
    pub = Pub(config)
    app = RequestTracing(ServerErrors(pub))
    app.pub = pub  # type: ignore[attr-defined]
    return app


def app_from_settings() -> RequestTracing:
    """Factory for uvicorn worker processes: the app for `api.settings.get_settings()`."""
    from api.settings import get_settings

    return create_app(PubConfig.from_settings(get_settings()))
