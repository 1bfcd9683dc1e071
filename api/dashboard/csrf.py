"""Protection against cross-site request forgery for every form of the dashboard.

Each browser gets a random secret in the cookie `rt_csrf` (HttpOnly, SameSite=Strict), set with the
first page that shows a form. Every form
carries `csrf_token` = HMAC(signing key, secret) in a hidden field. A POST is accepted only when the
field matches the cookie's secret: another site can make the browser send the cookie, but can
neither read it nor compute the field without the platform's signing key. Script calls may send the
same value in the `X-CSRF-Token` header instead.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dashboard._signing import Signer
from api.errors import Forbidden

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "CsrfCookieMiddleware", "csrf_token", "check_csrf"]

CSRF_COOKIE = "rt_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SECRET_LENGTH = 32


def _valid_secret(value: str | None) -> bool:
    return bool(value) and 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


class CsrfCookieMiddleware:
    """Gives each browser its CSRF secret: reads `rt_csrf`, or makes one and sets the cookie.

    The secret is put into `scope["state"]["csrf_secret"]`; the middleware keeps no state itself.
    """

    def __init__(self, app: ASGIApp, *, signer: Signer, secure: bool, path: str = "/dashboard") -> None:
        self.app = app
        self.signer = signer
        self.secure = secure
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = Request(scope).cookies
        secret = cookies.get(CSRF_COOKIE)
        is_new = not _valid_secret(secret)
        if is_new:
            secret = secrets.token_urlsafe(_SECRET_LENGTH)
        scope.setdefault("state", {})
        scope["state"]["csrf_secret"] = secret
        scope["state"]["csrf_signer"] = self.signer

        if not is_new or not scope.get("path", "").startswith(self.path):
            await self.app(scope, receive, send)
            return

        cookie = SimpleCookie()
        cookie[CSRF_COOKIE] = secret
        morsel = cookie[CSRF_COOKIE]
        morsel["path"] = self.path
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        if self.secure:
            morsel["secure"] = True
        header = morsel.OutputString().encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            # Only a response that carries a form gets the cookie, so that a request for a
            # stylesheet or a script never replaces the secret a page's forms were made with.
            if message["type"] == "http.response.start" and scope["state"].get("csrf_used"):
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def csrf_token(request: Request) -> str:
    """The value forms put into their hidden `csrf_token` field."""
    signer: Signer = request.state.csrf_signer
    request.state.csrf_used = True
    return signer.mac(request.state.csrf_secret)


def check_csrf(request: Request, form: FormData) -> None:
    """Raises Forbidden unless the request carries the token that matches its browser's secret.

    A secret made up during this very request (no cookie came in) never matches.
    """
    came_with_cookie = _valid_secret(request.cookies.get(CSRF_COOKIE))
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not came_with_cookie or not isinstance(sent, str) or not sent:
        raise Forbidden("the form is missing its CSRF token: reload the page and try again")
    signer: Signer = request.state.csrf_signer
    if not signer.verify(request.state.csrf_secret, sent):
        raise Forbidden("the form's CSRF token is not valid: reload the page and try again")
