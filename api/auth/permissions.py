"""Checking and granting permissions: a scope on everything, a family, one job, or an endpoint of those."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, false, or_, select, true
from sqlalchemy.orm import Session

from api.auth.scopes import DEFAULT_USER_SCOPES, DEPLOYER_SCOPES, OWNER_SCOPES, Scope
from api.auth.subjects import Caller
from api.db import AuthSubject, Job, JobFamily, Permission
from api.errors import Forbidden, PlatformError, Unauthenticated

__all__ = [
    "has_permission",
    "grant",
    "grant_defaults",
    "grant_deployer",
    "grant_owner",
    "readable_jobs_clause",
    "refusal",
    "ANONYMOUS_SCOPES",
]


def _scope_match(scope: Scope) -> ColumnElement[bool]:
    return Permission.scope.in_([scope.value, Scope.full_access.value])


# What anyone may do without a token when the platform runs with RACETRACK_AUTH_REQUIRED=false: read and
# call jobs. Deploying, deleting and administering still need a token.
ANONYMOUS_SCOPES = frozenset({Scope.read_job, Scope.call_job})


def _holds_everything(caller: Caller) -> bool:
    """Superusers and staff hold every scope on everything; so do recorded internal subjects."""
    return caller.is_superuser or caller.is_staff or caller.kind == "internal"


def refusal(caller: Caller, scope: Scope, resource: str) -> PlatformError:
    """The error for a caller lacking `scope` on `resource`: anonymous callers are told to log in."""
    if caller.anonymous:
        return Unauthenticated(f'no header X-Racetrack-Auth: log in to get scope "{scope}" on {resource}')
    return Forbidden(
        "no permission to do this operation", details=f'{caller.display} lacks scope "{scope}" on {resource}'
    )


def has_permission(
    session: Session,
    caller: Caller,
    scope: Scope,
    *,
    family: JobFamily | None = None,
    job: Job | None = None,
    endpoint: str | None = None,
) -> bool:
    """Whether `caller` holds `scope` on the job (or family, or everything when both are None).

    A grant without family and job covers everything; a family grant covers all its versions; a job grant
    covers that version only; a grant with an endpoint covers calls to paths starting with it.
    """
    if _holds_everything(caller):
        return True
    if caller.unrestricted:
        return scope in ANONYMOUS_SCOPES
    if caller.subject_id is None:
        return False
    family_id = family.id if family is not None else (job.family_id if job is not None else None)
    conditions = [Permission.subject_id == caller.subject_id, _scope_match(scope)]
    conditions.append(
        or_(
            Permission.job_family_id.is_(None),
            Permission.job_family_id == family_id if family_id is not None else false(),
        )
    )
    conditions.append(
        or_(Permission.job_id.is_(None), Permission.job_id == job.id if job is not None else false())
    )
    rows = session.scalars(select(Permission.endpoint).where(*conditions)).all()
    for granted_endpoint in rows:
        if granted_endpoint is None:
            return True
        if endpoint is not None and _endpoint_covers(granted_endpoint, endpoint):
            return True
    return False


def _endpoint_covers(granted: str, requested: str) -> bool:
    granted = "/" + granted.strip("/")
    requested = "/" + requested.lstrip("/")
    return requested == granted or requested.startswith(granted.rstrip("/") + "/") or granted == "/"


def readable_jobs_clause(session: Session, caller: Caller) -> ColumnElement[bool]:
    """A WHERE clause on `Job` keeping the jobs `caller` may read."""
    if _holds_everything(caller) or caller.unrestricted:
        return true()
    if caller.subject_id is None:
        return false()
    grants = session.execute(
        select(Permission.job_family_id, Permission.job_id).where(
            Permission.subject_id == caller.subject_id,
            _scope_match(Scope.read_job),
            Permission.endpoint.is_(None),
        )
    ).all()
    families = {family_id for family_id, job_id in grants if family_id is not None and job_id is None}
    jobs = {job_id for _, job_id in grants if job_id is not None}
    if any(family_id is None and job_id is None for family_id, job_id in grants):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if families:
        clauses.append(Job.family_id.in_(families))
    if jobs:
        clauses.append(Job.id.in_(jobs))
    return or_(*clauses) if clauses else false()


def grant(
    session: Session,
    subject: AuthSubject,
    scope: Scope,
    *,
    family: JobFamily | None = None,
    job: Job | None = None,
    endpoint: str | None = None,
    granted_by: str | None = None,
) -> Permission:
    """Grants a scope, returning the existing permission when the same one is already there."""
    existing = session.scalar(
        select(Permission).where(
            Permission.subject_id == subject.id,
            Permission.scope == scope.value,
            Permission.job_family_id.is_(None) if family is None else Permission.job_family_id == family.id,
            Permission.job_id.is_(None) if job is None else Permission.job_id == job.id,
            Permission.endpoint.is_(None) if endpoint is None else Permission.endpoint == endpoint,
        )
    )
    if existing is not None:
        return existing
    permission = Permission(
        subject=subject,
        scope=scope.value,
        job_family=family,
        job=job,
        endpoint=endpoint,
        granted_by=granted_by,
    )
    session.add(permission)
    session.flush()
    return permission


def grant_defaults(session: Session, subject: AuthSubject) -> None:
    for scope in DEFAULT_USER_SCOPES:
        grant(session, subject, scope, granted_by="registration")


def grant_owner(session: Session, subject: AuthSubject, family: JobFamily) -> None:
    """What the first deployer of a family may do with all of its versions."""
    for scope in OWNER_SCOPES:
        grant(session, subject, scope, family=family, granted_by="owner")


def grant_deployer(session: Session, subject: AuthSubject, job: Job) -> None:
    """What the deployer of a job may do with it (upstream grants this after a successful deploy)."""
    for scope in DEPLOYER_SCOPES:
        grant(session, subject, scope, job=job, granted_by="deployment")


def revoke_job_permissions(session: Session, job: Job) -> None:
    session.execute(delete(Permission).where(Permission.job_id == job.id))


__all__ += ["revoke_job_permissions"]
