"""Operations on running jobs: redeploy, reprovision, move, drift refresh and reconcile.

Each records an operation (a deployment row) for the deploy engine and returns it; poll
`GET /deploy/{id}` for its end. A refresh only reports drift (as a plan); a reconcile re-applies the
family's last applied revision, bringing back containers removed or changed by hand.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Caller, Scope, has_permission
from api.db import Deployment, Job
from api.db.repository import create_deployment, get_deployment, get_family
from api.errors import AlreadyExists, DeployFailed, Forbidden, InvalidInput, NotFound, Unavailable
from api.lifecycle.deployments import NO_ENGINE, DeployEngine, actor, submit
from api.lifecycle.deps import LoggedIn, NotInMaintenance, SessionDep, SettingsDep, job_access
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import DeploymentOut, deployment_out
from api.settings import Settings
from stacks.target import canonical_target_name

router = APIRouter(tags=["operations"], responses=error_responses(401, 403, 404, 422, 503))

DeployableJob = Annotated[Job, Depends(job_access(Scope.deploy_job))]


def _record(
    session: Session,
    settings: Settings,
    request: Request,
    caller: Caller,
    *,
    kind: str,
    operation: str,
    job: Job | None,
    family: str,
) -> DeploymentOut:
    deployment = create_deployment(
        session,
        kind=kind,
        status="in_progress",
        job_name=family,
        job_version=job.version if job else None,
        manifest=job.manifest if job else None,
        deployed_by=actor(caller),
        infrastructure_target=(job.infrastructure_target if job else None)
        or settings.default_infrastructure_target,
        parameters={"operation": operation},
    )
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)


@router.post(
    "/job/{name}/{version}/redeploy",
    response_model=DeploymentOut,
    status_code=202,
    dependencies=[NotInMaintenance],
)
def redeploy(
    job: DeployableJob, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Rebuilds the job from its git repository with its recorded manifest, then provisions it."""
    return _record(
        session, settings, request, caller, kind="deploy", operation="redeploy", job=job, family=job.name
    )


@router.post(
    "/job/{name}/{version}/reprovision",
    response_model=DeploymentOut,
    status_code=202,
    dependencies=[NotInMaintenance],
)
def reprovision(
    job: DeployableJob, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Applies the family's last applied revision again, without building anything."""
    return _record(
        session, settings, request, caller, kind="deploy", operation="reconcile", job=job, family=job.name
    )


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    infrastructure_target: str = Field(max_length=200, description="the target to move the job to")
    preview: bool = Field(default=False, description="only show what the move would change")


MOVE_WAIT_SECONDS = 900


@router.post(
    "/job/{name}/{version}/move",
    response_model=DeploymentOut,
    status_code=200,
    dependencies=[NotInMaintenance],
    responses=error_responses(409, 500),
)
def move(
    job: DeployableJob,
    body: MoveRequest,
    request: Request,
    response: Response,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    wait: bool = True,
) -> DeploymentOut:
    """Moves the job to another infrastructure target, its images reused: a revision of the family on
    each target (`racetrack history`), undone by moving it back. With `wait` (the default, as upstream's
    clients expect) the answer comes when the move has ended; `wait=false` answers 202 at once."""
    target = canonical_target_name(body.infrastructure_target)
    source = job.infrastructure_target or settings.default_infrastructure_target
    if target == source:
        raise InvalidInput(f"job {job.name} v{job.version} already runs on {target}")
    busy = session.scalar(
        select(Deployment.id).where(
            Deployment.job_name == job.name, Deployment.status == "in_progress", Deployment.kind != "preview"
        )
    )
    if busy is not None:
        raise AlreadyExists(
            f"operation {busy} on job family {job.name} is in progress; move it after it ends"
        )
    deployment = create_deployment(
        session,
        kind="preview" if body.preview else "move",
        status="in_progress",
        job_name=job.name,
        job_version=job.version,
        manifest=job.manifest,
        deployed_by=actor(caller),
        infrastructure_target=target,
        parameters={"operation": "move", "from": source},
    )
    engine: DeployEngine | None = request.app.state.engine
    submit(session, settings, engine, deployment)
    if engine is None:
        raise Unavailable(f"cannot move job {job.name} v{job.version}: {NO_ENGINE}")
    deployment_id = deployment.id
    if not wait:
        response.status_code = 202
        return deployment_out(deployment, None, settings)
    engine.wait(deployment_id, MOVE_WAIT_SECONDS)
    session.expire_all()
    deployment = get_deployment(session, deployment_id)
    if deployment.status == "failed":
        raise DeployFailed(f"moving job {job.name} v{job.version} to {target} failed: {deployment.error}")
    if deployment.status == "in_progress":
        response.status_code = 202  # still going: poll GET /deploy/{id}
    return deployment_out(deployment, None, settings)


@router.post("/job_family/{name}/refresh", response_model=DeploymentOut, status_code=202)
def refresh(
    name: str, request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> DeploymentOut:
    """Compares what runs with what the family's stack recorded; the operation's `preview` holds the drift."""
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    if not has_permission(session, caller, Scope.read_job, family=family):
        raise Forbidden("no permission to do this operation", details=f'scope "read_job" on family {name}')
    return _record(
        session, settings, request, caller, kind="preview", operation="refresh", job=None, family=name
    )


@router.get("/job_family/{name}/stack-updates", response_model=list[dict[str, Any]])
def stack_updates(
    name: str,
    request: Request,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    target: str | None = None,
) -> list[dict[str, Any]]:
    """The Pulumi updates of the family's stack on a target (version, kind, result, times, changes)."""
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    if not has_permission(session, caller, Scope.read_job, family=family):
        raise Forbidden("no permission to do this operation", details=f'scope "read_job" on family {name}')
    engine: DeployEngine | None = request.app.state.engine
    if engine is None:
        return []  # without a deploy engine no stack was ever updated
    return engine.stack_history(name, target or settings.default_infrastructure_target)


@router.post(
    "/job/all/reconcile", response_model=list[DeploymentOut], status_code=202, dependencies=[NotInMaintenance]
)
def reconcile_all(
    request: Request, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> list[DeploymentOut]:
    """Re-applies every family's last applied revision (staff or call_admin_api)."""
    if not has_permission(session, caller, Scope.call_admin_api):
        raise Forbidden("no permission to do this operation", details='scope "call_admin_api" is required')
    families = sorted(set(session.scalars(select(Job.name))))
    return [
        _record(session, settings, request, caller, kind="deploy", operation="reconcile", job=None, family=f)
        for f in families
    ]
