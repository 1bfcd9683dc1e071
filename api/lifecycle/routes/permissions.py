"""Permissions: list, grant and revoke (staff), and asking whether the caller holds a scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Scope, grant, has_permission, subject_for_esc, subject_for_family, subject_for_user
from api.db import AuthSubject, Esc, Job, Permission, User
from api.db.repository import find_job, get_family, record_audit
from api.errors import InvalidInput, NotFound
from api.lifecycle.deps import LoggedIn, SessionDep, StaffCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, RowId

router = APIRouter(prefix="/auth", tags=["permissions"], responses=error_responses(400, 401, 403, 404, 422))

SubjectKind = Literal["user", "esc", "job_family"]


class PermissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_kind: SubjectKind
    subject_name: str = Field(
        min_length=1, max_length=150, description="username, ESC name or id, family name"
    )
    scope: Scope
    job_family: str | None = Field(default=None, max_length=128)
    job_version: str | None = Field(default=None, max_length=128, description="needs job_family")
    endpoint: str | None = Field(default=None, max_length=1024, pattern=r"^/")


class PermissionOut(BaseModel):
    id: int
    subject_kind: str
    subject_name: str
    scope: str
    job_family: str | None
    job_version: str | None
    endpoint: str | None


class AllowedResponse(BaseModel):
    allowed: bool


def _subject(session: Session, kind: str, name: str) -> AuthSubject:
    if kind == "user":
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            raise NotFound(f"user {name} was not found")
        return subject_for_user(session, user)
    if kind == "esc":
        esc = session.get(Esc, name) or session.scalar(select(Esc).where(Esc.name == name))
        if esc is None:
            raise NotFound(f"ESC {name} was not found")
        return subject_for_esc(session, esc)
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    return subject_for_family(session, family)


def _subject_name(subject: AuthSubject) -> str:
    if subject.user is not None:
        return subject.user.username
    if subject.esc is not None:
        return subject.esc.name
    if subject.job_family is not None:
        return subject.job_family.name
    return subject.name or ""


def _out(permission: Permission) -> PermissionOut:
    return PermissionOut(
        id=permission.id,
        subject_kind=permission.subject.kind,
        subject_name=_subject_name(permission.subject),
        scope=permission.scope,
        job_family=permission.job_family.name
        if permission.job_family
        else (permission.job.name if permission.job else None),
        job_version=permission.job.version if permission.job else None,
        endpoint=permission.endpoint,
    )


def _grant(
    session: Session,
    subject: AuthSubject,
    scope: Scope,
    family_name: str | None,
    version: str | None,
    endpoint: str | None,
    granted_by: str,
) -> Permission:
    family = job = None
    if version is not None and family_name is None:
        raise InvalidInput(
            "field `job_version`: given without `job_family` (accepted: both, or only a family)"
        )
    if family_name is not None:
        family = get_family(session, family_name)
        if family is None:
            raise NotFound(f"job family {family_name} was not found")
    if version is not None and family_name is not None:
        job = find_job(session, family_name, version)
        if job is None or job.version != version:
            raise NotFound(f"job {family_name} version {version} was not found (an exact version is needed)")
        family = None
    permission = grant(
        session, subject, scope, family=family, job=job, endpoint=endpoint, granted_by=granted_by
    )
    record_audit(
        session,
        "permission_granted",
        executor=granted_by,
        subject=_subject_name(subject),
        job_name=family_name,
        job_version=version,
        properties={"scope": scope.value, "endpoint": endpoint},
    )
    return permission


@router.get("/permissions", response_model=list[PermissionOut])
def list_permissions(
    _: StaffCaller,
    session: SessionDep,
    subject_kind: Annotated[SubjectKind | None, Query()] = None,
    subject_name: Annotated[str | None, Query(max_length=150)] = None,
) -> list[PermissionOut]:
    """Every permission, or those of one subject (staff)."""
    query = select(Permission).order_by(Permission.id)
    if subject_kind is not None and subject_name is not None:
        query = query.where(Permission.subject_id == _subject(session, subject_kind, subject_name).id)
    elif subject_kind is not None:
        query = query.join(AuthSubject).where(AuthSubject.kind == subject_kind)
    return [_out(p) for p in session.scalars(query)]


@router.post("/permissions", response_model=PermissionOut, status_code=201)
def create_permission(body: PermissionIn, caller: StaffCaller, session: SessionDep) -> PermissionOut:
    """Grants a scope on everything, a family (`job_family`), a version (`job_version`) or an endpoint."""
    subject = _subject(session, body.subject_kind, body.subject_name)
    return _out(
        _grant(session, subject, body.scope, body.job_family, body.job_version, body.endpoint, caller.name)
    )


@router.delete("/permissions/{permission_id}", response_model=MessageResponse)
def delete_permission(permission_id: RowId, caller: StaffCaller, session: SessionDep) -> MessageResponse:
    permission = session.get(Permission, permission_id)
    if permission is None:
        raise NotFound(f"permission {permission_id} was not found")
    record_audit(
        session,
        "permission_revoked",
        executor=caller.name,
        subject=_subject_name(permission.subject),
        properties={"scope": permission.scope, "permission_id": permission_id},
    )
    session.delete(permission)
    return MessageResponse(message="permission revoked")


@router.post("/allow/esc/{esc_id}/job/{family}/scope/{scope}", response_model=PermissionOut, status_code=201)
def allow_esc(
    esc_id: str, family: str, scope: Scope, caller: StaffCaller, session: SessionDep
) -> PermissionOut:
    """Upstream's shortcut: grant an ESC a scope on a job family."""
    return _out(_grant(session, _subject(session, "esc", esc_id), scope, family, None, None, caller.name))


@router.post(
    "/allow/job_family/{source}/job/{target}/scope/{scope}", response_model=PermissionOut, status_code=201
)
def allow_family(
    source: str, target: str, scope: Scope, caller: StaffCaller, session: SessionDep
) -> PermissionOut:
    """Upstream's shortcut: let jobs of family `source` use `scope` on family `target` (one direction)."""
    return _out(
        _grant(session, _subject(session, "job_family", source), scope, target, None, None, caller.name)
    )


@router.get("/allowed/job/{name}/{version}/scope/{scope}", response_model=AllowedResponse)
def allowed(name: str, version: str, scope: Scope, caller: LoggedIn, session: SessionDep) -> AllowedResponse:
    """Whether the caller holds `scope` on a job."""
    job: Job | None = find_job(session, name, version)
    if job is None:
        raise NotFound(f"job {name} version {version} was not found")
    return AllowedResponse(allowed=has_permission(session, caller, scope, job=job))


@router.get(
    "/allowed/job_endpoint/{name}/{version}/scope/{scope}/endpoint/{endpoint:path}",
    response_model=AllowedResponse,
)
def allowed_endpoint(
    name: str, version: str, scope: Scope, endpoint: str, caller: LoggedIn, session: SessionDep
) -> AllowedResponse:
    """Whether the caller holds `scope` on one endpoint of a job (a grant on a path prefix counts)."""
    job: Job | None = find_job(session, name, version)
    if job is None:
        raise NotFound(f"job {name} version {version} was not found")
    return AllowedResponse(allowed=has_permission(session, caller, scope, job=job, endpoint="/" + endpoint))
