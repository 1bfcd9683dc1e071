"""Jobs and job families: list, get, delete, logs, build logs, public endpoints, revisions, rollback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select

from api.auth import Scope, has_permission, readable_jobs_clause
from api.db import Deployment, Job, JobFamily, PublicEndpointRequest
from api.db.repository import get_family, list_revisions
from api.errors import Forbidden, NotFound
from api.lifecycle.deployments import DeployEngine, delete_job, record_rollback, submit
from api.lifecycle.deps import LoggedIn, NotInMaintenance, SessionDep, SettingsDep, job_access
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import (
    DeploymentOut,
    JobFamilyOut,
    JobOut,
    LogsResponse,
    RevisionOut,
    RollbackRequest,
    deployment_out,
    job_out,
    ts,
)

router = APIRouter(tags=["jobs"], responses=error_responses(401, 403, 404, 422))

ReadableJob = Annotated[Job, Depends(job_access(Scope.read_job))]
DeletableJob = Annotated[Job, Depends(job_access(Scope.delete_job))]


class PublicEndpointOut(BaseModel):
    id: int
    endpoint: str
    active: bool


_JOB_LIST = TypeAdapter(list[JobOut])


@router.get("/job", response_model=list[JobOut])
def list_jobs(caller: LoggedIn, session: SessionDep, settings: SettingsDep) -> Response:
    """Every job version the caller may read (scope read_job), ordered by name and creation.

    Rows are read as plain tuples and serialized once: with thousands of jobs, ORM objects and FastAPI's
    re-validation of the response would triple the time.
    """
    query = (
        select(*Job.__table__.columns)
        .where(readable_jobs_clause(session, caller))
        .order_by(Job.name, Job.create_time)
    )
    jobs = [job_out(row, settings) for row in session.execute(query)]
    return Response(_JOB_LIST.dump_json(jobs), media_type="application/json")


@router.get("/job_family", response_model=list[JobFamilyOut])
def list_families(caller: LoggedIn, session: SessionDep) -> list[JobFamilyOut]:
    """Families with at least one job version the caller may read."""
    family_ids = select(Job.family_id).where(readable_jobs_clause(session, caller))
    query = select(JobFamily).where(JobFamily.id.in_(family_ids)).order_by(JobFamily.name)
    return [JobFamilyOut(id=f.id, name=f.name) for f in session.scalars(query)]


@router.get("/job/{name}/{version}", response_model=JobOut)
def get_job(job: ReadableJob, settings: SettingsDep) -> JobOut:
    """One job; `version` may be exact, `latest`, or a wildcard such as `1.x`."""
    return job_out(job, settings)


@router.delete(
    "/job/{name}/{version}",
    response_model=DeploymentOut,
    dependencies=[NotInMaintenance],
    responses=error_responses(503),
)
def delete(
    job: DeletableJob,
    request: Request,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    version: str,
) -> DeploymentOut:
    """Deletes a job version (exact version only); returns the `delete` operation."""
    if job.version != version:
        raise NotFound(f"job {job.name} version {version} was not found: delete needs an exact version")
    deployment = delete_job(session, settings, request.app.state.engine, caller, job)
    return deployment_out(deployment, None, settings)


@router.get("/job/{name}/{version}/logs", response_model=LogsResponse)
def runtime_logs(
    job: ReadableJob, request: Request, tail: Annotated[int, Query(ge=0, le=100_000)] = 20
) -> LogsResponse:
    """Recent runtime logs, read through the deploy engine."""
    engine: DeployEngine | None = request.app.state.engine
    if engine is None:
        return LogsResponse(logs="(runtime logs are not available: no deploy engine is configured)")
    return LogsResponse(logs=engine.runtime_logs(job.name, job.version, tail))


@router.get("/job/{name}/{version}/build-logs", response_model=LogsResponse)
def build_logs(
    job: ReadableJob, session: SessionDep, tail: Annotated[int, Query(ge=0, le=100_000)] = 0
) -> LogsResponse:
    """Build logs recorded by the deployment that made this version (`tail=0`: all lines)."""
    query = (
        select(Deployment)
        .where(
            Deployment.job_name == job.name,
            Deployment.job_version == job.version,
            Deployment.kind == "deploy",
        )
        .order_by(Deployment.create_time.desc())
    )
    deployment = session.scalars(query.limit(1)).first()
    text = (deployment.build_logs or "") if deployment is not None else ""
    if tail:
        text = "\n".join(text.splitlines()[-tail:])
    return LogsResponse(logs=text)


@router.get("/job/{name}/{version}/public-endpoints", response_model=list[PublicEndpointOut])
def public_endpoints(job: ReadableJob, session: SessionDep) -> list[PublicEndpointOut]:
    """Endpoint prefixes the job asked to expose without auth; `active` once staff approved them."""
    rows = session.scalars(select(PublicEndpointRequest).where(PublicEndpointRequest.job_id == job.id))
    return [PublicEndpointOut(id=r.id, endpoint=r.endpoint, active=r.active) for r in rows]


def _readable_family(session: SessionDep, caller: LoggedIn, name: str) -> JobFamily:
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    if not has_permission(session, caller, Scope.read_job, family=family):
        raise Forbidden("no permission to do this operation", details=f'scope "read_job" on family {name}')
    return family


@router.get("/job_family/{name}/revisions", response_model=list[RevisionOut])
def revisions(name: str, caller: LoggedIn, session: SessionDep) -> list[RevisionOut]:
    """Revisions of the family's desired state, newest first."""
    family = _readable_family(session, caller, name)
    out = []
    for revision in list_revisions(session, family):
        jobs = revision.desired_state.get("versions", []) if isinstance(revision.desired_state, dict) else []
        versions = [str(j.get("version")) for j in jobs if isinstance(j, dict) and j.get("version")]
        out.append(
            RevisionOut(
                number=revision.number,
                target=revision.target,
                created_at=ts(revision.created_at),
                created_by=revision.created_by,
                operation=revision.operation,
                status=revision.status,
                error=revision.error,
                versions=versions,
                summary=revision.summary,
            )
        )
    return out


@router.post(
    "/job_family/{name}/rollback",
    response_model=DeploymentOut,
    status_code=202,
    dependencies=[NotInMaintenance],
    responses=error_responses(503),
)
def rollback(
    name: str,
    body: RollbackRequest,
    request: Request,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
) -> DeploymentOut:
    """Records a rollback (or its preview) of the family to a revision or version; poll `GET /deploy/{id}`."""
    deployment = record_rollback(session, settings, caller, name, body)
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)
