"""Tables of the job registry: families, jobs, deployments, revisions, trash, audit, settings, plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, UtcDateTime, new_id, utcnow

__all__ = [
    "JOB_STATUSES",
    "DEPLOYMENT_KINDS",
    "DEPLOYMENT_STATUSES",
    "REVISION_STATUSES",
    "JobFamily",
    "Job",
    "Deployment",
    "FamilyRevision",
    "TrashJob",
    "AuditEvent",
    "Setting",
    "AsyncJobCall",
    "PublicEndpointRequest",
    "Plugin",
]

JOB_STATUSES = ("starting", "running", "error", "lost", "orphaned")
DEPLOYMENT_KINDS = ("deploy", "preview", "rollback", "delete")
DEPLOYMENT_STATUSES = ("in_progress", "done", "failed")
REVISION_STATUSES = ("pending", "applied", "failed")


class JobFamily(Base):
    """All versions of one job name; permissions and revisions attach to it."""

    __tablename__ = "job_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    jobs: Mapped[list[Job]] = relationship(back_populates="family", passive_deletes=True)


class Job(Base):
    """One deployed (or being deployed) version of a job family."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_jobs_name_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    family_id: Mapped[str] = mapped_column(ForeignKey("job_families.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="starting")
    error: Mapped[str | None] = mapped_column(Text)
    notice: Mapped[str | None] = mapped_column(Text)
    image_ref: Mapped[str | None] = mapped_column(String(512))
    internal_name: Mapped[str | None] = mapped_column(String(512))
    deployed_by: Mapped[str | None] = mapped_column(String(256))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    last_call_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    infrastructure_target: Mapped[str | None] = mapped_column(String(128))
    manifest: Mapped[str | None] = mapped_column(Text)  # the manifest as YAML
    job_type_version: Mapped[str | None] = mapped_column(String(128))
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    replica_internal_names: Mapped[list[str] | None] = mapped_column(JSON)
    infrastructure_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deployment_id: Mapped[str | None] = mapped_column(String(36))  # the deployment that made this version

    family: Mapped[JobFamily] = relationship(back_populates="jobs")


class Deployment(Base):
    """One operation asked of the deploy engine: deploy, preview, rollback or delete."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_job", "job_name", "job_version"),
        Index("ix_deployments_create_time", "create_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="deploy")
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    phase: Mapped[str | None] = mapped_column(String(256))
    warnings: Mapped[str | None] = mapped_column(Text)
    build_logs: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[str | None] = mapped_column(Text)  # YAML
    error: Mapped[str | None] = mapped_column(Text)
    image_name: Mapped[str | None] = mapped_column(String(512))
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_name: Mapped[str] = mapped_column(String(128))
    job_version: Mapped[str | None] = mapped_column(String(128))
    deployed_by: Mapped[str | None] = mapped_column(String(256))
    infrastructure_target: Mapped[str | None] = mapped_column(String(128))
    revision_number: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. rollback target, force flag
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class FamilyRevision(Base):
    """A numbered snapshot of what a job family should look like on one infrastructure target."""

    __tablename__ = "family_revisions"
    __table_args__ = (UniqueConstraint("family_id", "target", "number", name="uq_family_revisions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("job_families.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(128))
    number: Mapped[int] = mapped_column(Integer)
    desired_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    operation: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deployment_id: Mapped[str | None] = mapped_column(String(36))


class TrashJob(Base):
    """A deleted job version, kept so that its name and version are not silently reused."""

    __tablename__ = "trash_jobs"
    __table_args__ = (Index("ix_trash_jobs_name_version", "name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str | None] = mapped_column(String(16))
    manifest: Mapped[str | None] = mapped_column(Text)
    image_ref: Mapped[str | None] = mapped_column(String(512))
    internal_name: Mapped[str | None] = mapped_column(String(512))
    deployed_by: Mapped[str | None] = mapped_column(String(256))
    infrastructure_target: Mapped[str | None] = mapped_column(String(128))
    job_type_version: Mapped[str | None] = mapped_column(String(128))
    create_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delete_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_by: Mapped[str | None] = mapped_column(String(256))


class AuditEvent(Base):
    """Something that happened, who did it and to which job."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    username_executor: Mapped[str | None] = mapped_column(String(256))
    username_subject: Mapped[str | None] = mapped_column(String(256))
    job_name: Mapped[str | None] = mapped_column(String(128), index=True)
    job_version: Mapped[str | None] = mapped_column(String(128))
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Setting(Base):
    """A platform-wide setting, such as maintenance_mode, stored as JSON."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class AsyncJobCall(Base):
    """A job call made through pub's asynchronous API, shared by every pub replica."""

    __tablename__ = "async_job_calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), default="ongoing")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    job_name: Mapped[str] = mapped_column(String(128))
    job_version: Mapped[str] = mapped_column(String(128))
    job_path: Mapped[str] = mapped_column(String(1024))
    request_method: Mapped[str] = mapped_column(String(16))
    request_url: Mapped[str] = mapped_column(String(2048))
    request_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    response_body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pub_instance_addr: Mapped[str | None] = mapped_column(String(256))
    retriable_error: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who made the call (as the lifecycle told pub); only they (or staff) read its result. None: an
    # anonymous call, whose result anyone holding its unguessable id may read.
    caller_subject_id: Mapped[int | None] = mapped_column(ForeignKey("auth_subjects.id", ondelete="CASCADE"))


class PublicEndpointRequest(Base):
    """A job's wish to expose an endpoint prefix without auth; active once staff approve it."""

    __tablename__ = "public_endpoint_requests"
    __table_args__ = (
        UniqueConstraint("job_id", "endpoint", name="uq_public_endpoint_requests_job_endpoint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    job: Mapped[Job] = relationship()


class Plugin(Base):
    """An uploaded plugin ZIP (job type or infrastructure), kept under data_dir/plugins."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_plugins_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(1024))
    plugin_manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stored_file: Mapped[str] = mapped_column(String(1024))  # path relative to data_dir
    config: Mapped[str | None] = mapped_column(Text)  # YAML staff edit; None: the zip's config.yaml
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str | None] = mapped_column(String(256))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
