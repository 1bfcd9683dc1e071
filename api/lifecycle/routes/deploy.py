"""Deployments: `POST /deploy`, `POST /deploy/preview`, `POST /build`, `GET /deploy`, `GET /deploy/{id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select

from api.auth import Scope, has_permission, readable_jobs_clause
from api.db import Deployment, Job
from api.db.repository import get_deployment, get_family
from api.errors import Forbidden, NotFound
from api.lifecycle.deployments import actor, record_deploy, submit
from api.lifecycle.deps import LoggedIn, NotInMaintenance, SessionDep, SettingsDep
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import DeploymentOut, DeployRequest, deployment_out
from stacks.docker.build import saved_image

router = APIRouter(tags=["deploy"], responses=error_responses(400, 401, 403, 409, 422, 503))


@router.post("/deploy", response_model=DeploymentOut, status_code=202, dependencies=[NotInMaintenance])
def deploy(
    body: DeployRequest, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Records the desired job and a deployment and hands it to the deploy engine; poll `GET /deploy/{id}`."""
    deployment = record_deploy(session, settings, caller, body)
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)


@router.post(
    "/deploy/preview", response_model=DeploymentOut, status_code=202, dependencies=[NotInMaintenance]
)
def preview(
    body: DeployRequest, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Records a `preview` operation; when done, its `preview` field holds the planned changes."""
    deployment = record_deploy(session, settings, caller, body, kind="preview")
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)


@router.post("/build", response_model=DeploymentOut, status_code=202, dependencies=[NotInMaintenance])
def build(
    body: DeployRequest, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Builds the job's image on the platform and runs nothing (`racetrack run-local`); when the operation
    is done its `image_name` is set, and `GET /build/{id}/image` sends the image."""
    deployment = record_deploy(session, settings, caller, body, kind="build")
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)


@router.get(
    "/build/{deployment_id}/image",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-tar": {}}}, **error_responses(404)},
)
def build_image(deployment_id: str, caller: LoggedIn, session: SessionDep) -> StreamingResponse:
    """The image a finished build made, as `docker save` writes it (load it with `docker load`)."""
    deployment = get_deployment(session, deployment_id)
    if deployment.kind != "build" or deployment.deployed_by != actor(caller):
        raise NotFound(f"build {deployment_id} was not found")
    if deployment.status != "done" or not deployment.image_name:
        raise NotFound(f"build {deployment_id} has no image ({deployment.status}); wait until it is done")
    return StreamingResponse(saved_image(deployment.image_name), media_type="application/x-tar")


@router.get("/deploy", response_model=list[DeploymentOut])
def list_deployments(
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeploymentOut]:
    """Recent deployments the caller made or whose job family it may read, newest first."""
    query = select(Deployment).order_by(Deployment.create_time.desc(), Deployment.id).limit(limit)
    if not (caller.is_staff or caller.is_superuser or caller.unrestricted):
        readable_names = select(Job.name).where(readable_jobs_clause(session, caller))
        query = query.where(
            or_(Deployment.deployed_by == actor(caller), Deployment.job_name.in_(readable_names))
        )
    return [deployment_out(d, None, settings) for d in session.scalars(query)]


@router.get("/deploy/{deployment_id}", response_model=DeploymentOut, responses=error_responses(404))
def get_deployment_status(
    deployment_id: str, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Status, phase, error and warnings of one deployment; `job` is set once it is done."""
    deployment = get_deployment(session, deployment_id)
    if not (caller.is_staff or deployment.deployed_by == actor(caller)):
        family = get_family(session, deployment.job_name)
        if family is None or not has_permission(session, caller, Scope.read_job, family=family):
            raise Forbidden("no permission to do this operation", details="not your deployment")
    job = None
    if deployment.status == "done" and deployment.kind == "deploy" and deployment.job_version:
        job = session.scalar(
            select(Job).where(Job.name == deployment.job_name, Job.version == deployment.job_version)
        )
    return deployment_out(deployment, job, settings)
