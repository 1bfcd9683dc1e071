"""Recording operations for the deploy engine: deploy, preview, rollback and delete.

The lifecycle only records what was asked and hands the deployment id to `app.state.engine.submit`.
Without an engine, a deploy-like operation fails at once with a reason that says so; nothing pretends.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from api.auth import Caller, Scope, has_permission
from api.auth.permissions import grant_owner, refusal
from api.db import AuthSubject, Deployment, Job, TrashJob
from api.db.repository import (
    create_deployment,
    discard_deploy_inputs,
    ensure_family,
    finish_deployment,
    get_family,
    record_audit,
    save_deploy_inputs,
    trash_job,
)
from api.errors import AlreadyExists, NotFound
from api.lifecycle.schemas import DeployRequest, RollbackRequest
from api.settings import Settings
from jobtypes.manifest import manifest_yaml, parse_manifest
from stacks.target import LogFollower, canonical_target_name

__all__ = ["DeployEngine", "NO_ENGINE", "record_deploy", "record_rollback", "submit", "delete_job", "actor"]

logger = logging.getLogger("racetrack.lifecycle")

NO_ENGINE = "no deploy engine is configured"


class DeployEngine(Protocol):
    """Every method the lifecycle's routes call on the deploy engine (`api.deployer.DeployEngine`)."""

    def submit(self, deployment_id: str) -> None:
        """Starts the recorded operation in the background; its deployment row shows how it goes."""
        ...

    def wait(self, deployment_id: str, timeout: float) -> None:
        """Blocks until the operation ends or `timeout` seconds pass."""
        ...

    def runtime_logs(self, name: str, version: str, tail: int = 20) -> str:
        """The last `tail` lines (0: all) of every replica of the job."""
        ...

    def follow_logs(self, name: str, version: str, tail: int, target: str | None) -> LogFollower | None:
        """The job's log lines as they come; None when its target cannot follow them."""
        ...

    def stack_history(self, family: str, target: str) -> list[dict[str, Any]]:
        """The family's stack updates on a target, newest first."""
        ...


def actor(caller: Caller) -> str:
    """How a caller is named in `deployed_by`, audit records and revisions."""
    return caller.name if caller.kind == "user" else caller.display


def _check_deploy_permission(session: Session, caller: Caller, name: str, *, claim: bool) -> None:
    """A new family needs deploy_new_family, and with `claim` its deployer becomes its owner (deploy_job
    on the family); an existing family needs deploy_job on it: its owner's, a grant, or staff's."""
    family = get_family(session, name)
    if family is None:
        if not has_permission(session, caller, Scope.deploy_new_family):
            raise refusal(caller, Scope.deploy_new_family, f"everything (to create job family {name})")
        if claim and caller.subject_id is not None:
            subject = session.get(AuthSubject, caller.subject_id)
            if subject is not None:
                grant_owner(session, subject, ensure_family(session, name))
    elif not has_permission(session, caller, Scope.deploy_job, family=family):
        raise refusal(caller, Scope.deploy_job, f"job family {name}")


def record_deploy(
    session: Session, settings: Settings, caller: Caller, body: DeployRequest, *, kind: str = "deploy"
) -> Deployment:
    """Validates the manifest and permissions and records a deployment (`in_progress`)."""
    parsed = parse_manifest(body.manifest)
    manifest = parsed.manifest
    _check_deploy_permission(session, caller, manifest.name, claim=kind == "deploy")
    if kind == "deploy":
        same = (Job.name == manifest.name) & (Job.version == manifest.version)
        if not body.force and session.scalar(select(exists().where(same))):
            raise AlreadyExists(
                f"job {manifest.name} v{manifest.version} already exists; deploy with --force to overwrite it"
            )
        trashed = (TrashJob.name == manifest.name) & (TrashJob.version == manifest.version)
        if not body.force and session.scalar(select(exists().where(trashed))):
            raise AlreadyExists(
                f"job {manifest.name} v{manifest.version} was deleted; a deleted version is "
                "not reused unless you deploy with --force"
            )
        running = session.scalar(
            select(Deployment.id).where(
                Deployment.job_name == manifest.name,
                Deployment.job_version == manifest.version,
                Deployment.status == "in_progress",
                Deployment.kind.in_(("deploy", "delete", "rollback")),
            )
        )
        if running is not None:
            raise AlreadyExists(
                f"deployment {running} of job {manifest.name} v{manifest.version} is in progress"
            )
    deployment = create_deployment(
        session,
        kind=kind,
        status="in_progress",
        manifest=manifest_yaml(parsed.data),
        job_name=manifest.name,
        job_version=manifest.version,
        deployed_by=actor(caller),
        infrastructure_target=canonical_target_name(
            manifest.infrastructure_target or settings.default_infrastructure_target
        ),
        warnings="\n".join(parsed.warnings) or None,
        parameters={"force": body.force, "build_flags": list(body.build_flags)},
    )
    save_deploy_inputs(
        settings.data_dir,
        deployment.id,
        {
            "git_credentials": body.git_credentials.model_dump() if body.git_credentials else None,
            "secret_vars": body.secret_vars.model_dump() if body.secret_vars else None,
            "build_context": body.build_context,
            "build_flags": list(body.build_flags),
            "force": body.force,
        },
    )
    return deployment


def record_rollback(
    session: Session, settings: Settings, caller: Caller, family_name: str, body: RollbackRequest
) -> Deployment:
    family = get_family(session, family_name)
    if family is None:
        raise NotFound(f"job family {family_name} was not found")
    if not has_permission(session, caller, Scope.deploy_job, family=family):
        raise refusal(caller, Scope.deploy_job, f"job family {family_name}")
    return create_deployment(
        session,
        kind="preview" if body.preview else "rollback",
        status="in_progress",
        job_name=family_name,
        job_version=body.version,
        deployed_by=actor(caller),
        infrastructure_target=settings.default_infrastructure_target,
        parameters={"operation": "rollback", **body.model_dump()},
    )


def submit(session: Session, settings: Settings, engine: DeployEngine | None, deployment: Deployment) -> None:
    """Commits the recorded deployment and hands it to the engine, or fails it when there is none."""
    if engine is None:
        _fail(session, settings, deployment, NO_ENGINE)
        return
    session.commit()
    try:
        engine.submit(deployment.id)
    except Exception as exc:  # the engine is another team's code: any refusal must be visible
        logger.exception("deploy engine refused deployment %s", deployment.id)
        _fail(session, settings, deployment, f"the deploy engine refused the deployment: {exc}")


def _fail(session: Session, settings: Settings, deployment: Deployment, reason: str) -> None:
    finish_deployment(session, deployment.id, status="failed", error=reason)
    discard_deploy_inputs(settings.data_dir, deployment.id)
    record_audit(
        session,
        "deployment_failed",
        executor=deployment.deployed_by,
        job_name=deployment.job_name,
        job_version=deployment.job_version,
        properties={"deployment_id": deployment.id, "error": reason},
    )
    session.commit()


def delete_job(
    session: Session, settings: Settings, engine: DeployEngine | None, caller: Caller, job: Job
) -> Deployment:
    """Moves the job to the trash and records a `delete` operation for the engine to tear it down.

    Without an engine there is nothing this platform could have started, so the registry record is removed
    and the operation is `done` with a warning saying that infrastructure was not touched.
    """
    properties: dict[str, Any] = {"infrastructure_target": job.infrastructure_target}
    deployment = create_deployment(
        session,
        kind="delete",
        status="in_progress",
        manifest=job.manifest,
        job_name=job.name,
        job_version=job.version,
        deployed_by=actor(caller),
        infrastructure_target=job.infrastructure_target,
        image_name=job.image_ref,
        parameters={"internal_name": job.internal_name},
    )
    record_audit(
        session,
        "job_deleted",
        executor=actor(caller),
        job_name=job.name,
        job_version=job.version,
        properties=properties,
    )
    trash_job(session, job, deleted_by=actor(caller))
    if engine is None:
        deployment.warnings = (
            f"{NO_ENGINE}: only the registry record was removed; infrastructure was not touched"
        )
        finish_deployment(session, deployment.id, status="done")
        session.commit()
        return deployment
    submit(session, settings, engine, deployment)
    return deployment
