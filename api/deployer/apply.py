"""Applying a revision: record it, run the family's stack to it, and make the registry say what runs.

A failed run leaves the last applied revision in force: the stack is brought back to it (`restore`),
so the version that was serving keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.auth.permissions import grant_deployer
from api.auth.subjects import subject_for_user
from api.db import FamilyRevision, Job, PublicEndpointRequest, User, session_scope
from api.db.repository import (
    ensure_family,
    finish_deployment,
    get_deployment,
    get_family,
    record_audit,
    set_revision_status,
    trash_job,
    upsert_job,
)
from api.deployer.desired import current_spec, record_revision, sealed_state
from api.deployer.logpump import LogPump
from api.deployer.operations import failure, label_revision
from api.deployer.sealing import Sealer
from api.deployer.targets import Targets
from core.errors import PlatformError
from jobtypes.manifest import Manifest
from stacks.runner import Operation, StackRunner
from stacks.spec import FamilySpec, VersionSpec

__all__ = ["RevisionApplier"]

logger = logging.getLogger("racetrack.deployer")


class RevisionApplier:
    """Runs desired states through the stack runner and keeps revisions and registry in step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sealer: Sealer,
        runner: StackRunner,
        targets: Targets,
        phase: Callable[[str, str], None],
    ) -> None:
        self.sessions, self.sealer, self.runner, self.targets = sessions, sealer, runner, targets
        self._phase = phase

    def apply(
        self,
        deployment_id: str,
        desired: FamilySpec,
        *,
        changed_version: str | None,
        operation: str,
        deployed_by: str | None,
        log_path: Path,
        manifest: Manifest | None = None,
        manifest_text: str | None = None,
        job_type: str | None = None,
        finish: bool = True,
    ) -> dict[str, Any]:
        """Records `desired` as the next revision, runs the stack to it and updates the registry;
        with `finish`, the deployment is then done (an operation of several steps finishes it itself).
        Returns the stack's outputs."""
        with session_scope(self.sessions) as session:
            family = ensure_family(session, desired.family)
            revision, numbered = record_revision(
                session,
                family,
                desired,
                self.sealer,
                operation=operation,
                created_by=deployed_by,
                deployment_id=deployment_id,
            )
            if (
                manifest is not None
                and _deployed(numbered, changed_version).labels.get("racetrack/revision") == "pending"
            ):
                numbered = label_revision(
                    numbered, _deployed(numbered, changed_version).version, str(revision.number)
                )
            revision.desired_state = sealed_state(numbered, self.sealer)
            revision_id = revision.id
            get_deployment(session, deployment_id).revision_number = revision.number
            if manifest is not None:
                upsert_job(
                    session,
                    name=desired.family,
                    version=_deployed(numbered, changed_version).version,
                    status="starting",
                    manifest=manifest_text,
                    deployment_id=deployment_id,
                    infrastructure_target=desired.target,
                )
        self._phase(
            deployment_id, "building image and creating resources" if manifest else "updating resources"
        )
        operation_kind: Operation = "destroy" if not numbered.versions else "up"
        if numbered.versions:
            self.targets.get(desired.target).deliver_images(numbered)
        with LogPump(self.sessions, deployment_id, log_path):
            result = self.runner.run(operation_kind, numbered, log_path=str(log_path))
        if not result.ok:
            with session_scope(self.sessions) as session:
                set_revision_status(
                    session, session.get_one(FamilyRevision, revision_id), "failed", error=result.error
                )
            self.restore(desired.family, desired.target)
            raise failure(result)
        self._phase(deployment_id, "updating the registry")
        with session_scope(self.sessions) as session:
            set_revision_status(
                session, session.get_one(FamilyRevision, revision_id), "applied", summary=result.summary
            )
            self.sync_jobs(session, numbered, result.outputs)
            if manifest is not None:
                deployed = _deployed(numbered, changed_version)
                job = upsert_job(
                    session,
                    name=desired.family,
                    version=deployed.version,
                    status="running",
                    error=None,
                    deployed_by=deployed_by,
                    job_type_version=job_type,
                    replicas=manifest.replicas,
                    image_ref=deployed.main_image.tag,
                )
                self._grant_deployer(session, deployed_by, job)
                for endpoint in manifest.public_endpoints or []:
                    exists = session.scalar(
                        select(PublicEndpointRequest).where(
                            PublicEndpointRequest.job_id == job.id, PublicEndpointRequest.endpoint == endpoint
                        )
                    )
                    if exists is None:
                        session.add(PublicEndpointRequest(job_id=job.id, endpoint=endpoint, active=False))
                record_audit(
                    session,
                    "job_deployed",
                    executor=deployed_by,
                    job_name=desired.family,
                    job_version=changed_version,
                    properties={"revision": numbered.revision},
                )
            elif operation.startswith("rollback"):
                record_audit(
                    session,
                    "job_rolled_back",
                    executor=deployed_by,
                    job_name=desired.family,
                    job_version=changed_version,
                    properties={"revision": numbered.revision, "operation": operation},
                )
            if not finish:
                return result.outputs
            deployment = finish_deployment(
                session,
                deployment_id,
                status="done",
                image_name=found.main_image.tag
                if changed_version and (found := numbered.version(changed_version))
                else None,
            )
            deployment.phase = None
        return result.outputs

    def sync_jobs(self, session: Session, spec: FamilySpec, outputs: dict[str, Any]) -> None:
        """Makes the registry's versions of a family match what the stack now runs."""
        target = self.targets.get(spec.target)
        versions = outputs.get("versions") or {}
        for job in list(
            session.scalars(
                select(Job).where(Job.name == spec.family, Job.infrastructure_target == spec.target)
            )
        ):
            if job.version in versions:
                addresses = target.addresses(versions[job.version])
                job.internal_name = addresses[0] if addresses else None
                job.replica_internal_names = addresses
                job.image_ref = _deployed(spec, job.version).main_image.tag
                if job.status in ("starting", "lost", "error"):
                    job.status, job.error = "running", None
            elif job.status != "starting":
                trash_job(session, job, deleted_by="rollback")
        for version, out in versions.items():
            if session.scalar(select(Job).where(Job.name == spec.family, Job.version == version)) is None:
                addresses = target.addresses(out)
                upsert_job(
                    session,
                    name=spec.family,
                    version=version,
                    status="running",
                    internal_name=addresses[0] if addresses else None,
                    replica_internal_names=addresses,
                    infrastructure_target=spec.target,
                    image_ref=_deployed(spec, version).main_image.tag,
                )

    def restore(self, family_name: str, target: str) -> None:
        """Brings a family's stack back to its last applied revision (after a failure or a crash)."""
        with session_scope(self.sessions) as session:
            family = get_family(session, family_name)
            if family is None:
                return
            settings = self.targets.get(target).stack_settings(build_log_path=None)
            spec = current_spec(session, family, target, self.sealer, settings)
        result = self.runner.run("up" if spec.versions else "destroy", spec)
        if not result.ok:
            logger.error(
                "restoring %s on %s failed: %s %s", family_name, target, result.error, result.details
            )
            return
        with session_scope(self.sessions) as session:
            self.sync_jobs(session, spec, result.outputs)

    def _grant_deployer(self, session: Session, deployed_by: str | None, job: Job) -> None:
        user = session.scalar(select(User).where(User.username == deployed_by)) if deployed_by else None
        if user is not None:
            grant_deployer(session, subject_for_user(session, user), job)


def _deployed(spec: FamilySpec, version: str | None) -> VersionSpec:
    """A version the spec runs: the one a deploy changed, or one the stack reports."""
    found = spec.version(version) if version is not None else None
    if found is None:
        raise PlatformError(f"version {version} is not in the desired state of job family {spec.family}")
    return found
