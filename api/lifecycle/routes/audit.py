"""The audit log: `GET /audit/activity` and upstream's `/audit/events[...]` and `/audit/user_events[...]`
forms, filtered to what the caller may see."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import or_, select

from api.auth import readable_jobs_clause
from api.db import AuditEvent, Job
from api.lifecycle.deployments import actor
from api.lifecycle.deps import LoggedIn, SessionDep
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import ts

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(401, 422))


class AuditEventOut(BaseModel):
    id: int
    timestamp: int | None
    event_type: str
    username_executor: str | None
    username_subject: str | None
    job_name: str | None
    job_version: str | None
    properties: dict[str, Any] | None


Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/activity", response_model=list[AuditEventOut])
def activity(
    caller: LoggedIn,
    session: SessionDep,
    job_name: Annotated[str | None, Query(max_length=128)] = None,
    job_version: Annotated[str | None, Query(max_length=128)] = None,
    related_to_me: bool = False,
    limit: Limit = 200,
) -> list[AuditEventOut]:
    """Newest events first; staff see everything, others their own events and those of jobs they may read."""
    me = actor(caller)
    query = select(AuditEvent).order_by(AuditEvent.timestamp.desc(), AuditEvent.id.desc()).limit(limit)
    if not (caller.is_staff or caller.is_superuser or caller.unrestricted):
        readable = select(Job.name).where(readable_jobs_clause(session, caller))
        query = query.where(
            or_(
                AuditEvent.username_executor == me,
                AuditEvent.username_subject == me,
                AuditEvent.job_name.in_(readable),
            )
        )
    if related_to_me:
        query = query.where(or_(AuditEvent.username_executor == me, AuditEvent.username_subject == me))
    if job_name is not None:
        query = query.where(AuditEvent.job_name == job_name)
    if job_version is not None:
        query = query.where(AuditEvent.job_version == job_version)
    return [
        AuditEventOut(
            id=e.id,
            timestamp=ts(e.timestamp),
            event_type=e.event_type,
            username_executor=e.username_executor,
            username_subject=e.username_subject,
            job_name=e.job_name,
            job_version=e.job_version,
            properties=e.properties,
        )
        for e in session.scalars(query)
    ]


@router.get("/events", response_model=list[AuditEventOut])
def events(caller: LoggedIn, session: SessionDep, limit: Limit = 200) -> list[AuditEventOut]:
    """Every event the caller may see (upstream's form of `/activity`)."""
    return activity(caller, session, limit=limit)


@router.get("/events/job/{job_name}", response_model=list[AuditEventOut])
def job_family_events(
    job_name: str, caller: LoggedIn, session: SessionDep, limit: Limit = 200
) -> list[AuditEventOut]:
    """Events of every version of a job the caller may see."""
    return activity(caller, session, job_name=job_name, limit=limit)


@router.get("/events/job/{job_name}/{job_version}", response_model=list[AuditEventOut])
def job_events(
    job_name: str, job_version: str, caller: LoggedIn, session: SessionDep, limit: Limit = 200
) -> list[AuditEventOut]:
    """Events of one job version the caller may see."""
    return activity(caller, session, job_name=job_name, job_version=job_version, limit=limit)


@router.get("/user_events", response_model=list[AuditEventOut])
def user_events(caller: LoggedIn, session: SessionDep, limit: Limit = 200) -> list[AuditEventOut]:
    """Events the caller did or was the subject of."""
    return activity(caller, session, related_to_me=True, limit=limit)


@router.get("/user_events/job/{job_name}", response_model=list[AuditEventOut])
def user_job_family_events(
    job_name: str, caller: LoggedIn, session: SessionDep, limit: Limit = 200
) -> list[AuditEventOut]:
    """The caller's own events on every version of a job."""
    return activity(caller, session, job_name=job_name, related_to_me=True, limit=limit)


@router.get("/user_events/job/{job_name}/{job_version}", response_model=list[AuditEventOut])
def user_job_events(
    job_name: str, job_version: str, caller: LoggedIn, session: SessionDep, limit: Limit = 200
) -> list[AuditEventOut]:
    """The caller's own events on one job version."""
    return activity(
        caller, session, job_name=job_name, job_version=job_version, related_to_me=True, limit=limit
    )
