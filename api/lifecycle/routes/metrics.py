"""`GET /metrics`: the lifecycle's Prometheus metrics, for a scraper holding a token.

Upstream serves its metrics to anyone who reaches an internal port. Here the lifecycle's one port may
face users, and the metrics name every job and how it fares, so they are for platform components and
administrators only: pub's internal token, or a token with `call_admin_api` (a staff user's, or an ESC
granted it), in `X-Racetrack-Auth` or as `Authorization: Bearer <token>` (what Prometheus sends with
`authorization: {credentials_file: ...}`). docs/monitoring.md shows a scrape configuration.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.orm import Session

from api.auth import Scope, has_permission
from api.errors import Forbidden, Unauthenticated
from api.lifecycle.deps import AUTH_HEADER, authenticate, from_platform, header_token
from api.metrics import REQUEST_SECONDS, REQUESTS, JobsCollector
from api.settings import Settings

__all__ = ["metrics_router", "RequestMetrics"]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _check(request: Request, session: Session, settings: Settings) -> None:
    if from_platform(request, settings):
        return
    token = header_token(request) or _bearer(request)
    if token is None:
        raise Unauthenticated(
            f"the metrics need a token with call_admin_api: send it in {AUTH_HEADER} or as "
            "Authorization: Bearer <token>"
        )
    caller = authenticate(session, settings, token)
    if not has_permission(session, caller, Scope.call_admin_api):
        raise Forbidden("no permission to read the metrics", details='scope "call_admin_api" is required')


def metrics_router(app: Any) -> APIRouter:
    router = APIRouter(tags=["health"])
    jobs = CollectorRegistry(auto_describe=False)
    jobs.register(JobsCollector(app.state.sessions))

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(request: Request) -> Response:
        """Prometheus text format: requests, deploy operations and their phases, stack operations, jobs
        by status, the monitor's findings, and the process's own figures."""
        session: Session = app.state.sessions()
        try:
            _check(request, session, app.state.settings)
        finally:
            session.close()
        return Response(generate_latest(REGISTRY) + generate_latest(jobs), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """ASGI middleware counting each HTTP request by method, matched route template and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what an exception that escapes every handler becomes

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method, route = scope["method"], _template(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def _template(scope: dict[str, Any]) -> str:
    """The matched route's whole path template. FastAPI keeps an included router's routes with their own
    paths (without the router's prefix) in scope["route"], and the whole one in its routing context."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    return getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None) or "unmatched"
