"""`GET /auth/can-call-job/{name}/{version}/{path}`: pub's one question per call (docs/architecture.md)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth import Caller, Scope, has_permission
from api.auth.job_sessions import authenticate_job_session
from api.db import Job, PublicEndpointRequest, utcnow
from api.db.repository import find_job, maintenance_mode
from api.errors import Forbidden, InvalidInput, NotFound, Unauthenticated, Unavailable
from api.lifecycle.deps import (
    AUTH_HEADER,
    SessionDep,
    SettingsDep,
    authenticate,
    header_token,
    require_internal,
)
from api.lifecycle.errors import error_responses

router = APIRouter(
    prefix="/auth",
    tags=["pub"],
    dependencies=[Depends(require_internal)],
    responses=error_responses(401, 403, 404, 422, 503),
)

OPEN_PATHS = ("/health", "/live", "/ready")
JOB_SESSION_HEADER = "X-Racetrack-Job-Session"  # pub: the browser session of a job's own host
# Pub caches answers, so this is roughly one write per job per minute at most.
LAST_CALL_GRANULARITY = timedelta(seconds=60)


class CallableJob(BaseModel):
    name: str
    version: str
    status: str
    internal_name: str | None
    replica_internal_names: list[str] = Field(
        default_factory=list, description="every replica's address (host:port); pub spreads calls over them"
    )


class CanCallResponse(BaseModel):
    job: CallableJob
    caller: str | None
    caller_id: int | None = Field(
        default=None, description="the caller's auth subject; pub records it as the owner of async calls"
    )
    remote_gateway_url: str | None = None
    remote_gateway_token: str | None = None


def _is_public(session: SessionDep, job: Job, path: str) -> bool:
    prefixes = session.scalars(
        select(PublicEndpointRequest.endpoint).where(
            PublicEndpointRequest.job_id == job.id, PublicEndpointRequest.active.is_(True)
        )
    )
    for prefix in prefixes:
        prefix = "/" + prefix.strip("/")
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return True
    return False


def _refuse_ambiguous(path: str) -> None:
    """A decision is about one path: none that a job could resolve to another (pub never asks these)."""
    if "\\" in path:
        raise InvalidInput(
            f"a backslash in {path!r} is refused: servers differ on whether it separates segments"
        )
    if any(segment.split(";", 1)[0] in (".", "..") for segment in path.split("/")):
        raise InvalidInput(
            f"a dot-segment ('.' or '..') in {path!r} is refused: ask about the path it leads to"
        )


def _decide(
    request: Request, session: SessionDep, settings: SettingsDep, name: str, version: str, path: str
) -> CanCallResponse:
    if maintenance_mode(session):
        raise Unavailable("Racetrack is in maintenance mode: job calls are paused")
    job = find_job(session, name, version)
    if job is None:
        raise NotFound(f"job {name} version {version} was not found")
    path = "/" + path.lstrip("/")
    _refuse_ambiguous(path)
    # Pub's question carries the caller's token, or the session of the job's own host; no cookie counts.
    token = header_token(request)
    job_session = None if token is not None else request.headers.get(JOB_SESSION_HEADER)

    def the_caller() -> Caller:
        if token is not None:
            return authenticate(session, settings, token)
        assert job_session is not None
        return authenticate_job_session(
            session,
            settings.signing_key(),
            job_session,
            job.name,
            user_token_lifetime=settings.user_token_max_age,  # an expired token's sessions end with it
        )

    caller: Caller | None = None
    if path in OPEN_PATHS or _is_public(session, job, path):
        if token is not None or job_session is not None:
            try:
                caller = the_caller()
            except Unauthenticated:
                caller = None  # a public endpoint ignores bad credentials
    elif token is None and job_session is None:
        if settings.auth_required:
            raise Unauthenticated(f"no header {AUTH_HEADER}: not logged in")
    else:
        caller = the_caller()
        if not has_permission(session, caller, Scope.call_job, job=job, endpoint=path):
            raise Forbidden(
                "no permission to do this operation",
                details=f'auth subject "{caller.display}" does not have permission to access endpoint {path} '
                f'at resource "{job.name} v{job.version}" with scope "call_job"',
            )
    now = utcnow()
    if job.last_call_time is None or now - job.last_call_time >= LAST_CALL_GRANULARITY:
        job.last_call_time = now
    return CanCallResponse(
        job=CallableJob(
            name=job.name,
            version=job.version,
            status=job.status,
            internal_name=job.internal_name,
            replica_internal_names=list(job.replica_internal_names or []),
        ),
        caller=caller.display if caller is not None else None,
        caller_id=caller.subject_id if caller is not None else None,
    )


@router.get("/can-call-job/{name}/{version}/{path:path}", response_model=CanCallResponse)
def can_call_job(
    name: str, version: str, path: str, request: Request, session: SessionDep, settings: SettingsDep
) -> CanCallResponse:
    """Whether the caller's token (in X-Racetrack-Auth) may call `path` of a job; resolves `latest`/`1.x`."""
    return _decide(request, session, settings, name, version, path)


@router.get("/can-call-job/{name}/{version}", response_model=CanCallResponse, include_in_schema=False)
def can_call_job_root(
    name: str, version: str, request: Request, session: SessionDep, settings: SettingsDep
) -> CanCallResponse:
    return _decide(request, session, settings, name, version, "")
