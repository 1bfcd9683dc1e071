"""FastAPI dependencies: the database session, the caller, and the permission checks routes declare.

Routes state what they need in their signature (`StaffCaller`, `Depends(job_access(Scope.delete_job))`,
`dependencies=[NotInMaintenance]`) instead of repeating checks in their bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import ANONYMOUS, Caller, Scope, authenticate_token, has_permission, internal_token_valid
from api.auth.permissions import refusal
from api.auth.subjects import UNRESTRICTED_ANONYMOUS
from api.db import Job
from api.db.repository import get_job, maintenance_mode
from api.errors import Forbidden, Unauthenticated, Unavailable
from api.settings import Settings, managed_secret

__all__ = [
    "AUTH_HEADER",
    "INTERNAL_HEADER",
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

AUTH_HEADER = "X-Racetrack-Auth"
LEGACY_AUTH_HEADERS = ("X-Racetrack-User-Auth", "X-Racetrack-Esc-Auth")
INTERNAL_HEADER = "X-Racetrack-Internal-Auth"


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


def request_token(request: Request) -> str | None:
    """The caller's token: the X-Racetrack-Auth header, a legacy header, or the login cookie."""
    for name in (AUTH_HEADER, *LEGACY_AUTH_HEADERS):
        value = request.headers.get(name)
        if value:
            return value.strip()
    cookie = request.cookies.get(AUTH_HEADER)
    return unquote(cookie) if cookie else None


def authenticate(session: Session, settings: Settings, token: str) -> Caller:
    """The caller a token stands for, under this platform's key and token lifetime."""
    return authenticate_token(
        session, settings.signing_key(), token, user_token_lifetime=settings.user_token_max_age
    )


def get_caller(request: Request, session: SessionDep, settings: SettingsDep) -> Caller:
    token = request_token(request)
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
