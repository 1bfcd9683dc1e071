"""Requests to expose job endpoints without auth, and their approval by staff."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.db import PublicEndpointRequest, utcnow
from api.db.repository import record_audit
from api.errors import NotFound
from api.lifecycle.deps import SessionDep, StaffCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import RowId

router = APIRouter(
    prefix="/public_endpoint_requests",
    tags=["public endpoints"],
    responses=error_responses(401, 403, 404, 422),
)


class PublicEndpointRequestOut(BaseModel):
    id: int
    job_name: str
    job_version: str
    endpoint: str
    active: bool


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


def _out(row: PublicEndpointRequest) -> PublicEndpointRequestOut:
    return PublicEndpointRequestOut(
        id=row.id,
        job_name=row.job.name,
        job_version=row.job.version,
        endpoint=row.endpoint,
        active=row.active,
    )


@router.get("", response_model=list[PublicEndpointRequestOut])
def list_requests(_: StaffCaller, session: SessionDep) -> list[PublicEndpointRequestOut]:
    return [
        _out(r) for r in session.scalars(select(PublicEndpointRequest).order_by(PublicEndpointRequest.id))
    ]


@router.put("/{request_id}", response_model=PublicEndpointRequestOut)
def decide(
    request_id: RowId, body: Decision, caller: StaffCaller, session: SessionDep
) -> PublicEndpointRequestOut:
    """Approves (`{"active": true}`) or withdraws (`false`) a public endpoint."""
    row = session.get(PublicEndpointRequest, request_id)
    if row is None:
        raise NotFound(f"public endpoint request {request_id} was not found")
    row.active = body.active
    row.decided_by = caller.name
    row.decided_at = utcnow()
    record_audit(
        session,
        "public_endpoint_approved" if body.active else "public_endpoint_withdrawn",
        executor=caller.name,
        job_name=row.job.name,
        job_version=row.job.version,
        properties={"endpoint": row.endpoint},
    )
    return _out(row)
