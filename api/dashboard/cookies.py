"""The dashboard's cookies: their names and the attributes that keep them to the dashboard.

Served over HTTPS (`Settings.serves_https`: RACETRACK_SECURE_COOKIE, or a dashboard URL starting
with https://), every cookie is `Secure`, has `Path=/` and a name starting with `__Host-`: a browser
accepts such a cookie only from this very host, so a page on a sibling host of the same site (a job's
own host, on Kubernetes) cannot plant one in the dashboard ("cookie tossing"). Over plain HTTP the
names are bare and the path is `/dashboard`; a request that did arrive over HTTPS still gets `Secure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

__all__ = [
    "SESSION",
    "CSRF",
    "FLASH",
    "CookiePolicy",
    "policy",
    "read",
    "set_cookie",
    "header",
    "delete_cookie",
]

SESSION = "rt_session"  # the user's lifecycle token
CSRF = "rt_csrf"  # the browser's CSRF secret (csrf.py)
FLASH = "rt_flash"  # a signed message for the next page


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool  # the dashboard is served over HTTPS
    base_path: str = "/dashboard"

    def name(self, base: str) -> str:
        return f"__Host-{base}" if self.secure else base

    @property
    def path(self) -> str:
        return "/" if self.secure else self.base_path  # a __Host- cookie must have Path=/


def policy(connection: HTTPConnection) -> CookiePolicy:
    found: CookiePolicy = connection.app.state.cookies
    return found


def read(connection: HTTPConnection, base: str) -> str | None:
    return connection.cookies.get(policy(connection).name(base))


def set_cookie(
    connection: HTTPConnection,
    response: Response,
    base: str,
    value: str,
    *,
    max_age: int | None,
    samesite: Literal["lax", "strict"] = "lax",
) -> None:
    rules = policy(connection)
    response.set_cookie(
        rules.name(base),
        value,
        max_age=max_age,
        path=rules.path,
        httponly=True,
        samesite=samesite,
        secure=rules.secure or connection.url.scheme == "https",
    )


def header(
    connection: HTTPConnection, base: str, value: str, *, samesite: Literal["lax", "strict"] = "lax"
) -> tuple[bytes, bytes]:
    """The Set-Cookie header of a session cookie, for a response whose headers are already made."""
    carrier = Response()
    set_cookie(connection, carrier, base, value, max_age=None, samesite=samesite)
    return next((k, v) for k, v in carrier.raw_headers if k == b"set-cookie")


def delete_cookie(
    connection: HTTPConnection, response: Response, base: str, *, samesite: Literal["lax", "strict"] = "lax"
) -> None:
    rules = policy(connection)
    response.delete_cookie(
        rules.name(base),
        path=rules.path,
        httponly=True,
        samesite=samesite,
        secure=rules.secure or connection.url.scheme == "https",
    )
