"""`GET /audit/activity`: what happened, filtered to what the caller may see."""

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


@router.get("/activity", response_model=list[AuditEventOut])
def activity(
    caller: LoggedIn,
    session: SessionDep,
    job_name: Annotated[str | None, Query(max_length=128)] = None,
    job_version: Annotated[str | None, Query(max_length=128)] = None,
    related_to_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
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
