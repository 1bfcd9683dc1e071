"""Request and response bodies of the lifecycle API (tables live in `api.db`, not here).

Times are integer UNIX timestamps (seconds), as upstream's client expects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from api.db import Deployment, Job
from api.deployer.targets import job_public_url
from api.settings import Settings

__all__ = [
    "MAX_INT32",
    "RowId",
    "ts",
    "IdResponse",
    "MessageResponse",
    "InfoResponse",
    "HealthResponse",
    "JobOut",
    "JobFamilyOut",
    "job_out",
    "DeploymentOut",
    "deployment_out",
    "GitCredentials",
    "SecretVars",
    "DeployRequest",
    "RollbackRequest",
    "RevisionOut",
    "LogsResponse",
]


# Integers go to 32-bit columns: larger inputs are refused as invalid, not left to overflow the database.
MAX_INT32 = 2_147_483_647
RowId = Annotated[int, Path(ge=1, le=MAX_INT32, description="a row id")]


def ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdResponse(BaseModel):
    id: str


class MessageResponse(BaseModel):
    message: str


class InfoResponse(BaseModel):
    service: str = "lifecycle"
    git_version: str
    docker_tag: str
    auth_required: bool
    external_pub_url: str
    lifecycle_url: str
    dashboard_url: str
    grafana_url: str | None = None


class HealthResponse(BaseModel):
    service: str = "lifecycle"
    live: bool
    ready: bool
    status: str


class JobOut(BaseModel):
    id: str
    name: str
    version: str
    status: str
    create_time: int | None
    update_time: int | None
    last_call_time: int | None
    manifest_yaml: str | None
    internal_name: str | None
    error: str | None
    notice: str | None
    image_ref: str | None
    image_tag: str | None
    deployed_by: str | None
    infrastructure_target: str | None
    job_type_version: str | None
    replicas: int
    pub_url: str


def job_out(job: Job | Row[Any], settings: Settings) -> JobOut:
    """The API view of a job, from its ORM object or a row of its columns."""
    tag = job.image_ref.rsplit(":", 1)[-1] if job.image_ref and ":" in job.image_ref else None
    return JobOut(
        id=job.id,
        name=job.name,
        version=job.version,
        status=job.status,
        create_time=ts(job.create_time),
        update_time=ts(job.update_time),
        last_call_time=ts(job.last_call_time),
        manifest_yaml=job.manifest,
        internal_name=job.internal_name,
        error=job.error,
        notice=job.notice,
        image_ref=job.image_ref,
        image_tag=tag,
        deployed_by=job.deployed_by,
        infrastructure_target=job.infrastructure_target,
        job_type_version=job.job_type_version,
        replicas=job.replicas,
        pub_url=job_public_url(settings, job.name, job.version, job.infrastructure_target),
    )


class JobFamilyOut(BaseModel):
    id: str
    name: str


BUILD_LOG_LINES = 200  # what a deployment's status carries; the whole log is at /job/{n}/{v}/build-logs


class DeploymentOut(BaseModel):
    id: str
    kind: str
    status: str
    phase: str | None
    error: str | None
    warnings: str | None
    image_name: str | None
    job_name: str
    job_version: str | None
    deployed_by: str | None
    infrastructure_target: str | None
    revision_number: int | None
    manifest_yaml: str | None
    preview: dict[str, Any] | None
    build_logs: str | None = Field(
        default=None, description=f"the last {BUILD_LOG_LINES} lines of the build log"
    )
    create_time: int | None
    update_time: int | None
    job: JobOut | None = None


def deployment_out(deployment: Deployment, job: Job | None, settings: Settings) -> DeploymentOut:
    return DeploymentOut(
        id=deployment.id,
        kind=deployment.kind,
        status=deployment.status,
        phase=deployment.phase,
        error=deployment.error,
        warnings=deployment.warnings,
        image_name=deployment.image_name,
        job_name=deployment.job_name,
        job_version=deployment.job_version,
        deployed_by=deployment.deployed_by,
        infrastructure_target=deployment.infrastructure_target,
        revision_number=deployment.revision_number,
        manifest_yaml=deployment.manifest,
        preview=deployment.preview,
        build_logs="\n".join((deployment.build_logs or "").splitlines()[-BUILD_LOG_LINES:]) or None,
        create_time=ts(deployment.create_time),
        update_time=ts(deployment.update_time),
        job=job_out(job, settings) if job is not None else None,
    )


class GitCredentials(_Body):
    username: str
    password: str


class SecretVars(_Body):
    build_env: dict[str, str] = Field(default_factory=dict)
    runtime_env: dict[str, str] = Field(default_factory=dict)


class DeployRequest(_Body):
    """What `racetrack deploy` sends: the merged manifest and what only the client knows."""

    manifest: dict[str, Any]
    git_credentials: GitCredentials | None = None
    secret_vars: SecretVars | None = None
    build_context: str | None = Field(default=None, description="base64 of a tar.gz of the local workdir")
    force: bool = False
    build_flags: list[Literal["--no-cache"]] = Field(default_factory=list)


class RollbackRequest(_Body):
    to_revision: int | None = Field(default=None, ge=1, le=MAX_INT32)
    version: str | None = None
    preview: bool = False


class RevisionOut(BaseModel):
    number: int
    target: str
    created_at: int | None
    created_by: str | None
    operation: str
    status: str
    error: str | None
    versions: list[str]
    summary: dict[str, Any] | None


class LogsResponse(BaseModel):
    logs: str
