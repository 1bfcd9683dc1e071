"""Who is asking: the session cookie, the user behind it, and the decorators that guard views.

The session is the user's own lifecycle token in the cookie `rt_session` (`__Host-rt_session` over
HTTPS; HttpOnly, SameSite=Lax, see cookies.py). Only the dashboard reads it: pub and the lifecycle
take no dashboard cookie, so a page that makes the browser call them (a job's page, another site)
gets no use of it. A job's Swagger page gets its own session from pub (views/jobs.py, `open_job`).
The dashboard keeps no session store: each page asks the lifecycle who the token belongs to.

Views are declared with `page()` (GET) or `form()` (POST). `form()` checks the CSRF token before
anything else runs, `staff=True` refuses non-staff users with 403; both mark the endpoint
(`csrf_protected`, `staff_only`) so the tests can walk every route and prove it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.dashboard import cookies
from api.dashboard.csrf import check_csrf
from api.dashboard.lifecycle import LifecycleClient
from api.errors import Forbidden, Unauthenticated

__all__ = [
    "User",
    "current_user",
    "page",
    "form",
    "set_auth_cookie",
    "clear_auth_cookie",
    "flash",
    "redirect",
]

AUTH_COOKIE_MAX_AGE = 31 * 24 * 3600


@dataclass(frozen=True)
class User:
    username: str
    token: str
    is_staff: bool


def lifecycle(request: Request) -> LifecycleClient:
    client: LifecycleClient = request.app.state.lifecycle
    return client


def session_token(request: Request) -> str | None:
    raw = cookies.read(request, cookies.SESSION)
    return unquote(raw) if raw else None


async def current_user(request: Request) -> User | None:
    """The logged-in user, asked of the lifecycle once per request; None when not logged in."""
    if "user" in request.scope.get("state", {}):
        known: User | None = request.state.user
        return known
    token = session_token(request)
    user = None
    if token:
        try:
            data = await lifecycle(request).whoami(token)
        except Unauthenticated:
            data = None
        if data:
            user = User(
                username=data.get("username", ""),
                token=data.get("token") or token,
                is_staff=bool(data.get("is_staff")),
            )
    request.state.user = user
    return user


def set_auth_cookie(request: Request, response: Response, token: str) -> None:
    cookies.set_cookie(request, response, cookies.SESSION, quote(token, safe=""), max_age=AUTH_COOKIE_MAX_AGE)


def clear_auth_cookie(request: Request, response: Response) -> None:
    cookies.delete_cookie(request, response, cookies.SESSION)


def redirect(request: Request, route: str, /, **params: Any) -> RedirectResponse:
    return RedirectResponse(str(request.app.url_path_for(route, **params)), status_code=303)


def flash(request: Request, response: Response, message: str, kind: str = "info") -> Response:
    """Shows `message` on the next page this browser renders (a signed, short-lived cookie)."""
    signer = request.app.state.flash_signer
    cookies.set_cookie(request, response, cookies.FLASH, signer.dumps({"m": message, "k": kind}), max_age=60)
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    login = str(request.app.url_path_for("login"))
    return RedirectResponse(f"{login}?next={quote(target, safe='')}", status_code=303)


View = Callable[..., Awaitable[Response]]


def page(*, staff: bool = False) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """A GET view for logged-in users (`staff=True`: staff only); called as `view(request, user)`."""

    def decorate(view: View) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                return _login_redirect(request)
            if staff and not user.is_staff:
                raise Forbidden(f"User {user.username} is not a staff member: this page is for staff only")
            return await view(request, user)

        endpoint.staff_only = staff  # type: ignore[attr-defined]
        return endpoint

    return decorate


def form(
    *, staff: bool = False, login: bool = True
) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """A POST view: CSRF checked first, then the user; called as `view(request, user, form)`."""

    def decorate(view: View) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            data: FormData = await request.form()
            check_csrf(request, data)
            user = await current_user(request)
            if login and user is None:
                return _login_redirect(request)
            if staff and (user is None or not user.is_staff):
                name = user.username if user else "anonymous"
                raise Forbidden(f"User {name} is not a staff member: this action is for staff only")
            return await view(request, user, data)

        endpoint.csrf_protected = True  # type: ignore[attr-defined]
        endpoint.staff_only = staff  # type: ignore[attr-defined]
        return endpoint

    return decorate
