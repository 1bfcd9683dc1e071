"""Protection against cross-site request forgery for every form of the dashboard.

Each browser gets a random secret in the cookie `rt_csrf` (`__Host-rt_csrf` over HTTPS; HttpOnly,
SameSite=Strict), set with the first page that shows a form. Every form carries `csrf_token` =
HMAC(signing key, secret, session) in a hidden field, where session is a digest of the browser's
session cookie (empty before login). A POST is accepted only when the field matches both: another
site can make the browser send the cookies but can neither read them nor compute the field without
the platform's signing key; and a page on a sibling host that plants its own `rt_csrf` with a token
made for it (cookie tossing) still cannot match the victim's session. A POST whose `Origin` is
another host than the dashboard's is refused before that. Script calls may send the token in the
`X-CSRF-Token` header instead of the field.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dashboard import cookies
from api.dashboard._signing import Signer
from api.errors import Forbidden

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "CsrfCookieMiddleware", "csrf_token", "check_csrf"]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SECRET_LENGTH = 32


def _valid_secret(value: str | None) -> bool:
    return value is not None and 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


class CsrfCookieMiddleware:
    """Gives each browser its CSRF secret: reads the cookie, or makes one and sets the cookie.

    The secret is put into `scope["state"]["csrf_secret"]`; the middleware keeps no state itself.
    """

    def __init__(self, app: ASGIApp, *, signer: Signer, policy: cookies.CookiePolicy) -> None:
        self.app = app
        self.signer = signer
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        secret = request.cookies.get(self.policy.name(cookies.CSRF))
        is_new = not _valid_secret(secret)
        if is_new:
            secret = secrets.token_urlsafe(_SECRET_LENGTH)
        scope.setdefault("state", {})
        scope["state"]["csrf_secret"] = secret
        scope["state"]["csrf_signer"] = self.signer

        if not is_new or not scope.get("path", "").startswith(self.policy.base_path):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            # Only a response that carries a form gets the cookie, so that a request for a
            # stylesheet or a script never replaces the secret a page's forms were made with.
            if message["type"] == "http.response.start" and scope["state"].get("csrf_used"):
                cookie = cookies.header(request, cookies.CSRF, str(secret), samesite="strict")
                message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _session_binding(request: Request) -> str:
    """A digest of the session cookie as this request carries it: the token is valid for that session only."""
    session = cookies.read(request, cookies.SESSION)
    return hashlib.sha256(session.encode()).hexdigest() if session else ""


def _expected(request: Request) -> str:
    signer: Signer = request.state.csrf_signer
    return signer.mac(f"{request.state.csrf_secret}\x00{_session_binding(request)}")


def csrf_token(request: Request) -> str:
    """The value forms put into their hidden `csrf_token` field."""
    request.state.csrf_used = True
    return _expected(request)


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:  # not every client sends it; the token below still has to match
        return
    own = {
        request.headers.get("host", ""),
        urlsplit(request.app.state.settings.effective_dashboard_url).netloc,
    }
    if origin == "null" or urlsplit(origin).netloc not in own:
        raise Forbidden(
            f"a form sent from another site (Origin {origin}) is refused: use the dashboard's own pages"
        )


def check_csrf(request: Request, form: FormData) -> None:
    """Raises Forbidden unless the request comes from the dashboard's own page in this browser session.

    A secret made up during this very request (no cookie came in) never matches.
    """
    _check_origin(request)
    came_with_cookie = _valid_secret(cookies.read(request, cookies.CSRF))
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not came_with_cookie or not isinstance(sent, str) or not sent:
        raise Forbidden("the form is missing its CSRF token: reload the page and try again")
    if not secrets.compare_digest(_expected(request), sent):
        raise Forbidden("the form's CSRF token is not valid: reload the page and try again")
