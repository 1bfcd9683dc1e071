"""FastAPI dependencies: the database session, the caller, and the permission checks routes declare.

Routes state what they need in their signature (`StaffCaller`, `Depends(job_access(Scope.delete_job))`,
`dependencies=[NotInMaintenance]`) instead of repeating checks in their bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import ANONYMOUS, Caller, Scope, authenticate_token, has_permission, internal_token_valid
from api.auth.permissions import refusal
from api.auth.subjects import UNRESTRICTED_ANONYMOUS
from api.db import Job
from api.db.repository import get_job, maintenance_mode
from api.errors import Forbidden, Unauthenticated, Unavailable
from api.settings import Settings, managed_secret
from core.protocol import AUTH_HEADER, INTERNAL_AUTH_HEADER, LEGACY_AUTH_HEADERS

__all__ = [
    "AUTH_HEADER",
    "INTERNAL_HEADER",
    "header_token",
    "login_cookie",
    "SessionDep",
    "SettingsDep",
    "CallerDep",
    "LoggedIn",
    "StaffCaller",
    "UserCaller",
    "NotInMaintenance",
    "InternalOrAdmin",
    "job_access",
    "authenticate",
    "require_internal",
    "from_platform",
    "get_caller",
    "expected_internal_token",
]

INTERNAL_HEADER = INTERNAL_AUTH_HEADER


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# "function": the transaction commits before the answer is sent, so a client that got an answer finds
# its change in its next request, and a failed commit is answered as the error it is.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def login_cookie(settings: Settings) -> tuple[str, bool]:
    """The name of the cookie `POST /users/login` sets, and whether it is Secure.

    Over HTTPS it is `__Host-X-Racetrack-Auth`: no other host (a job's own host on the same site)
    can plant one. Only the lifecycle reads it; the dashboard has a session cookie of its own.
    """
    secure = settings.serves_https(settings.effective_lifecycle_url)
    return (f"__Host-{AUTH_HEADER}" if secure else AUTH_HEADER), secure


def header_token(request: Request) -> str | None:
    """The token of the X-Racetrack-Auth header or of a legacy header."""
    for name in (AUTH_HEADER, *LEGACY_AUTH_HEADERS):
        value = request.headers.get(name)
        if value:
            return value.strip()
    return None


def _from_own_page(request: Request, settings: Settings) -> bool:
    """A request a browser sent from the lifecycle's own origin, or with a header no other site may set."""
    if request.headers.get("x-requested-with"):
        return True  # a cross-origin page cannot send it: the lifecycle answers no CORS preflight
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    own = {request.headers.get("host", ""), urlsplit(settings.effective_lifecycle_url).netloc}
    return urlsplit(origin).netloc in own


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The token of the login cookie. Browsers send cookies with requests other sites start, so an
    unsafe method is taken only from the lifecycle's own pages (cross-site request forgery)."""
    raw = request.cookies.get(login_cookie(settings)[0])
    if not raw:
        return None
    if request.method not in SAFE_METHODS and not _from_own_page(request, settings):
        raise Forbidden(
            f"the login cookie authenticates a {request.method} only from the lifecycle's own pages "
            f"(a matching Origin, or an X-Requested-With header): send the token in {AUTH_HEADER} instead"
        )
    return unquote(raw)


def authenticate(session: Session, settings: Settings, token: str) -> Caller:
    """The caller a token stands for, under this platform's key and token lifetime."""
    return authenticate_token(
        session, settings.signing_key(), token, user_token_lifetime=settings.user_token_max_age
    )


def get_caller(request: Request, session: SessionDep, settings: SettingsDep) -> Caller:
    token = header_token(request) or cookie_token(request, settings)
    if token is None:
        return ANONYMOUS if settings.auth_required else UNRESTRICTED_ANONYMOUS
    return authenticate(session, settings, token)


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_login(caller: CallerDep) -> Caller:
    if caller.anonymous and not caller.unrestricted:
        raise Unauthenticated(f"no header {AUTH_HEADER}: not logged in")
    return caller


LoggedIn = Annotated[Caller, Depends(require_login)]


def require_user(caller: LoggedIn) -> Caller:
    if caller.kind != "user":
        raise Forbidden("wrong subject type to do this operation: only users may do it")
    return caller


UserCaller = Annotated[Caller, Depends(require_user)]


def require_staff(caller: LoggedIn) -> Caller:
    if caller.kind != "user":
        raise Forbidden("wrong subject type to do this operation: only staff users may do it")
    if not (caller.is_staff or caller.is_superuser):
        raise Forbidden(f"User {caller.name} is not a staff member")
    return caller


StaffCaller = Annotated[Caller, Depends(require_staff)]


def _not_in_maintenance(session: SessionDep) -> None:
    if maintenance_mode(session):
        raise Unavailable("Racetrack is in maintenance mode: deployments and deletions are paused, try later")


NotInMaintenance = Depends(_not_in_maintenance)


def job_access(scope: Scope) -> Callable[..., Job]:
    """A dependency resolving the `{name}/{version}` job of the path and checking `scope` on it."""

    def dependency(name: str, version: str, session: SessionDep, caller: LoggedIn) -> Job:
        job = get_job(session, name, version)
        if not has_permission(session, caller, scope, job=job):
            raise refusal(caller, scope, f"job {job.name} v{job.version}")
        return job

    return dependency


def expected_internal_token(settings: Settings) -> str:
    if settings.internal_token is not None:
        return settings.internal_token.get_secret_value()
    return managed_secret(settings.data_dir, "internal_token")


def from_platform(request: Request, settings: Settings) -> bool:
    """Whether the request carries pub's internal token."""
    return internal_token_valid(request.headers.get(INTERNAL_HEADER), expected_internal_token(settings))


def require_internal(request: Request, settings: SettingsDep) -> None:
    if not from_platform(request, settings):
        raise Unauthenticated(f"missing or wrong {INTERNAL_HEADER}: only platform components may do this")


def _internal_or_admin(request: Request, settings: SettingsDep, session: SessionDep) -> None:
    """Pub's internal token, or a caller holding call_admin_api (upstream's rule for async calls)."""
    if from_platform(request, settings):
        return
    caller = require_login(get_caller(request, session, settings))
    if not has_permission(session, caller, Scope.call_admin_api):
        raise Forbidden("no permission to do this operation", details='scope "call_admin_api" is required')


InternalOrAdmin = Depends(_internal_or_admin)
