"""The dashboard's ASGI application: routes, middleware and error pages.

create_app(settings)                      # talks to settings.effective_lifecycle_url
create_app(settings, transport=...)       # tests: an in-process lifecycle behind httpx
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dashboard._signing import Signer
from api.dashboard.cookies import CookiePolicy
from api.dashboard.csrf import CsrfCookieMiddleware
from api.dashboard.lifecycle import LifecycleClient
from api.dashboard.rendering import STATIC_DIR, render
from api.dashboard.session import clear_auth_cookie
from api.dashboard.views import activity, auth, history, jobs, staff
from api.errors import PlatformError, Unauthenticated, http_status
from api.settings import Settings, get_settings

__all__ = ["create_app", "PREFIX"]

PREFIX = "/dashboard"

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
        b"base-uri 'none'",
    ),
]


class SecurityHeadersMiddleware:
    """Adds headers that keep the pages out of frames and scripts from other origins out of the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _home(request: Request) -> Response:
    return RedirectResponse(str(request.app.url_path_for("jobs")), status_code=303)


async def _live(request: Request) -> Response:
    return PlainTextResponse("live")


async def _platform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlatformError)
    if isinstance(exc, Unauthenticated) and request.method == "GET":
        # The session's token was revoked or expired: start over at the login page.
        response = RedirectResponse(str(request.app.url_path_for("login")), status_code=303)
        clear_auth_cookie(request, response)
        return response
    return render(request, "error.html", http_status(exc), error=exc, title=type(exc).__name__)


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", 404, error=PlatformError("no such page"), title="Not found")


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Builds the dashboard app; `transport` replaces the network between it and the lifecycle."""
    settings = settings or get_settings()
    key = settings.signing_key()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.lifecycle = LifecycleClient(settings.effective_lifecycle_url, transport=transport)
        try:
            yield
        finally:
            await app.state.lifecycle.aclose()

    routes = [
        Route("/", _home, methods=["GET"], name="home"),
        Route("/live", _live, methods=["GET"], name="live"),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *auth.routes,
        *jobs.routes,
        *history.routes,
        *activity.routes,
        *staff.routes,
    ]
    cookie_policy = CookiePolicy(
        secure=settings.serves_https(settings.effective_dashboard_url), base_path=PREFIX
    )
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(CsrfCookieMiddleware, signer=Signer(key, "csrf"), policy=cookie_policy),
    ]
    app = Starlette(
        routes=[
            Route("/", _home, methods=["GET"]),
            Mount(PREFIX, routes=routes),
        ],
        middleware=middleware,
        exception_handlers={PlatformError: _platform_error, 404: _not_found},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.cookies = cookie_policy
    app.state.flash_signer = Signer(key, "flash")
    return app
