"""Repository functions over the registry, shared by the lifecycle API and the deploy engine.

The deploy engine calls these to move a deployment along (`set_deployment_phase`, `append_build_logs`,
`finish_deployment`), to record what a family should look like (`add_revision`, `set_revision_status`)
and to record jobs (`upsert_job`, `set_job_status`, `trash_job`). None of them commits: the caller owns
the transaction (see `api.db.session_scope`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.auth_models import AuthSubject
from api.db.base import utcnow
from api.db.registry_models import (
    AuditEvent,
    Deployment,
    FamilyRevision,
    Job,
    JobFamily,
    PublicEndpointRequest,
    Setting,
    TrashJob,
)
from api.errors import InvalidInput, NotFound
from jobtypes.manifest.versions import resolve_version

__all__ = [
    "get_family",
    "ensure_family",
    "find_job",
    "get_job",
    "upsert_job",
    "set_job_status",
    "trash_job",
    "request_public_endpoints",
    "create_deployment",
    "get_deployment",
    "set_deployment_phase",
    "append_build_logs",
    "add_deployment_warning",
    "finish_deployment",
    "add_revision",
    "set_revision_status",
    "list_revisions",
    "record_audit",
    "get_setting",
    "set_setting",
    "maintenance_mode",
    "save_deploy_inputs",
    "load_deploy_inputs",
    "discard_deploy_inputs",
]


# Families and jobs --------------------------------------------------------------------------------


def get_family(session: Session, name: str) -> JobFamily | None:
    return session.scalar(select(JobFamily).where(JobFamily.name == name))


def ensure_family(session: Session, name: str) -> JobFamily:
    """The family of that name, created (with its auth subject, for job-to-job calls) if missing."""
    family = get_family(session, name)
    if family is None:
        family = JobFamily(name=name)
        session.add(family)
        session.flush()
        session.add(AuthSubject(kind="job_family", job_family_id=family.id))
        session.flush()
    return family


def find_job(session: Session, name: str, version: str) -> Job | None:
    """The job meant by an exact version, `latest` or a wildcard such as `1.x`; None if there is none."""
    pairs = session.execute(select(Job.version, Job.status).where(Job.name == name)).all()
    exact = resolve_version(version, [(v, s) for v, s in pairs])
    if exact is None:
        return None
    return session.scalar(select(Job).where(Job.name == name, Job.version == exact))


def get_job(session: Session, name: str, version: str) -> Job:
    job = find_job(session, name, version)
    if job is None:
        raise NotFound(f"job {name} version {version} was not found")
    return job


def upsert_job(session: Session, *, name: str, version: str, **fields: Any) -> Job:
    """Creates or updates the job `name` `version` (and its family) with the given column values."""
    job = session.scalar(select(Job).where(Job.name == name, Job.version == version))
    if job is None:
        family = ensure_family(session, name)
        job = Job(family_id=family.id, name=name, version=version)
        session.add(job)
    for key, value in fields.items():
        if not hasattr(Job, key):
            raise InvalidInput(f"job has no field {key!r}")
        setattr(job, key, value)
    job.update_time = utcnow()
    session.flush()
    return job


def set_job_status(session: Session, job: Job, status: str, *, error: str | None = None) -> None:
    job.status = status
    job.error = error
    job.update_time = utcnow()
    session.flush()


def trash_job(session: Session, job: Job, *, deleted_by: str | None) -> TrashJob:
    """Moves a job to the trash (its permissions and public-endpoint requests go with the row)."""
    trashed = TrashJob(
        name=job.name,
        version=job.version,
        status=job.status,
        manifest=job.manifest,
        image_ref=job.image_ref,
        internal_name=job.internal_name,
        deployed_by=job.deployed_by,
        infrastructure_target=job.infrastructure_target,
        job_type_version=job.job_type_version,
        create_time=job.create_time,
        deleted_by=deleted_by,
    )
    session.add(trashed)
    session.delete(job)
    session.flush()
    return trashed


def request_public_endpoints(session: Session, job: Job, endpoints: list[str]) -> list[PublicEndpointRequest]:
    """Records the manifest's `public_endpoints` of a job as requests (inactive until staff approve them).

    Endpoints already requested keep their approval; endpoints no longer in the manifest are dropped.
    """
    existing = {
        r.endpoint: r
        for r in session.scalars(select(PublicEndpointRequest).where(PublicEndpointRequest.job_id == job.id))
    }
    for endpoint, request in existing.items():
        if endpoint not in endpoints:
            session.delete(request)
    for endpoint in endpoints:
        if endpoint not in existing:
            existing[endpoint] = PublicEndpointRequest(job_id=job.id, endpoint=endpoint, active=False)
            session.add(existing[endpoint])
    session.flush()
    return [existing[e] for e in endpoints]


# Deployments --------------------------------------------------------------------------------------


def create_deployment(session: Session, **fields: Any) -> Deployment:
    deployment = Deployment(**fields)
    session.add(deployment)
    session.flush()
    return deployment


def get_deployment(session: Session, deployment_id: str) -> Deployment:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFound(f"deployment {deployment_id} was not found")
    return deployment


def set_deployment_phase(session: Session, deployment_id: str, phase: str | None) -> None:
    get_deployment(session, deployment_id).phase = phase
    session.flush()


def append_build_logs(session: Session, deployment_id: str, text: str) -> None:
    deployment = get_deployment(session, deployment_id)
    deployment.build_logs = (deployment.build_logs or "") + text
    session.flush()


def add_deployment_warning(session: Session, deployment_id: str, warning: str) -> None:
    deployment = get_deployment(session, deployment_id)
    deployment.warnings = f"{deployment.warnings}\n{warning}" if deployment.warnings else warning
    session.flush()


def finish_deployment(
    session: Session,
    deployment_id: str,
    *,
    status: str,
    error: str | None = None,
    image_name: str | None = None,
    preview: dict[str, Any] | None = None,
) -> Deployment:
    if status not in ("done", "failed"):
        raise InvalidInput(f"status: {status!r} is not a final status (accepted: done, failed)")
    deployment = get_deployment(session, deployment_id)
    deployment.status = status
    deployment.error = error
    if image_name is not None:
        deployment.image_name = image_name
    if preview is not None:
        deployment.preview = preview
    deployment.update_time = utcnow()
    session.flush()
    return deployment


# Revisions ----------------------------------------------------------------------------------------


def add_revision(
    session: Session,
    family: JobFamily,
    *,
    target: str,
    desired_state: dict[str, Any],
    operation: str,
    created_by: str | None,
    deployment_id: str | None = None,
) -> FamilyRevision:
    """Records the next numbered revision (status pending) of a family's desired state on a target."""
    last = session.scalar(
        select(func.max(FamilyRevision.number)).where(
            FamilyRevision.family_id == family.id, FamilyRevision.target == target
        )
    )
    revision = FamilyRevision(
        family_id=family.id,
        target=target,
        number=(last or 0) + 1,
        desired_state=desired_state,
        operation=operation,
        created_by=created_by,
        deployment_id=deployment_id,
        status="pending",
    )
    session.add(revision)
    session.flush()
    return revision


def set_revision_status(
    session: Session,
    revision: FamilyRevision,
    status: str,
    *,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    if status not in ("pending", "applied", "failed"):
        raise InvalidInput(f"status: {status!r} (accepted: pending, applied, failed)")
    revision.status = status
    revision.error = error
    if summary is not None:
        revision.summary = summary
    session.flush()


def list_revisions(session: Session, family: JobFamily, *, target: str | None = None) -> list[FamilyRevision]:
    query = select(FamilyRevision).where(FamilyRevision.family_id == family.id)
    if target is not None:
        query = query.where(FamilyRevision.target == target)
    return list(session.scalars(query.order_by(FamilyRevision.created_at.desc(), FamilyRevision.id.desc())))


# Audit and settings -------------------------------------------------------------------------------


def record_audit(
    session: Session,
    event_type: str,
    *,
    executor: str | None,
    subject: str | None = None,
    job_name: str | None = None,
    job_version: str | None = None,
    properties: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        event_type=event_type,
        username_executor=executor,
        username_subject=subject,
        job_name=job_name,
        job_version=job_version,
        properties=properties,
    )
    session.add(event)
    session.flush()
    return event


def get_setting(session: Session, name: str, default: Any = None) -> Any:
    setting = session.get(Setting, name)
    return default if setting is None else setting.value


def set_setting(session: Session, name: str, value: Any) -> None:
    setting = session.get(Setting, name)
    if setting is None:
        session.add(Setting(name=name, value=value))
    else:
        setting.value = value
    session.flush()


def maintenance_mode(session: Session) -> bool:
    return bool(get_setting(session, "maintenance_mode", False))


# Deploy inputs ------------------------------------------------------------------------------------
# Git credentials, secret variables and the local build context are needed by the engine once and must
# not sit in the database: they are kept as an owner-only file per deployment, removed after use.


def _inputs_path(data_dir: Path, deployment_id: str) -> Path:
    if "/" in deployment_id or deployment_id.startswith("."):
        raise InvalidInput(f"deployment id {deployment_id!r} is not valid")
    return data_dir / "deploy-inputs" / f"{deployment_id}.json"


def save_deploy_inputs(data_dir: Path, deployment_id: str, inputs: dict[str, Any]) -> Path:
    path = _inputs_path(data_dir, deployment_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(inputs, handle)
    return path


def load_deploy_inputs(data_dir: Path, deployment_id: str) -> dict[str, Any]:
    """`{git_credentials, secret_vars, build_context, build_flags, force}` of a deployment ({} once gone)."""
    path = _inputs_path(data_dir, deployment_id)
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def discard_deploy_inputs(data_dir: Path, deployment_id: str) -> None:
    _inputs_path(data_dir, deployment_id).unlink(missing_ok=True)
