"""The deploy engine: turns recorded operations into Pulumi runs and the registry into their result.

The lifecycle records an operation (a `Deployment` row) and calls `submit`. A thread of this engine
then does it in phases, each visible on the deployment: fetch the source, prepare the job type,
record the new revision of the family's desired state, run the family's stack (which builds images
and starts containers that only count once they answer `/live` and `/ready`), and update the
registry. A failure leaves the last applied revision in force: the stack is brought back to it, so
the version that was serving keeps serving.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.auth.permissions import grant_deployer
from api.auth.subjects import subject_for_family, subject_for_user
from api.auth.tokens import primary_token
from api.db import Deployment, FamilyRevision, Job, PublicEndpointRequest, User, session_scope
from api.db.repository import (
    append_build_logs,
    discard_deploy_inputs,
    ensure_family,
    finish_deployment,
    get_deployment,
    get_family,
    load_deploy_inputs,
    record_audit,
    set_deployment_phase,
    set_revision_status,
    trash_job,
    upsert_job,
)
from api.deployer.desired import (
    applied_revisions,
    current_spec,
    find_revision,
    images_from_plan,
    record_revision,
    revision_spec,
    sealed_state,
    version_from_plan,
    with_version,
    without_version,
)
from api.deployer.sealing import Sealer
from api.errors import InvalidInput, NotFound, PlatformError
from api.settings import Settings
from stacks.engine import EngineConfig
from stacks.runner import OperationResult, StackRunner
from stacks.spec import FamilySpec, VersionSpec

__all__ = ["DeployEngine"]

logger = logging.getLogger("racetrack.deployer")

INTERRUPTED = (
    "interrupted: the lifecycle stopped during this operation; the last applied revision was restored"
)


class DeployEngine:
    """What `app.state.engine` is: `submit(deployment_id)`, `runtime_logs(job, tail)`, `recover()`."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        runner: StackRunner | None = None,
        max_parallel: int = 4,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.sealer = Sealer(settings.data_dir)
        self.runner = runner or StackRunner(EngineConfig.from_settings(settings), max_parallel=max_parallel)
        self._threads = concurrent.futures.ThreadPoolExecutor(max_parallel * 2, thread_name_prefix="deploy")
        self._futures: set[concurrent.futures.Future] = set()

    # The lifecycle's interface ------------------------------------------------------------------

    def submit(self, deployment_id: str) -> None:
        future = self._threads.submit(self._run, deployment_id)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)

    def wait_idle(self, timeout: float | None = None) -> None:
        concurrent.futures.wait(list(self._futures), timeout=timeout)

    def shutdown(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.runner.shutdown()

    def runtime_logs(self, name: str, version: str, tail: int = 20) -> str:
        """The last `tail` lines (0: all) the job's first replica printed."""
        import docker

        client = docker.from_env()
        containers = client.containers.list(
            all=True,
            filters={
                "label": [
                    f"racetrack/job-name={name}",
                    f"racetrack/job-version={version}",
                    "racetrack/replica=0",
                ]
            },
        )
        if not containers:
            return ""
        return containers[0].logs(tail=tail if tail > 0 else "all").decode("utf-8", "replace")

    def stack_history(self, family: str, target: str) -> list[dict[str, Any]]:
        """Pulumi's own record of the family's stack updates, newest first."""
        return self.runner.history(family, target)

    def recover(self) -> None:
        """After a restart: fails what was in flight and brings each touched family back to its last
        applied revision, so registry, stack and running containers agree again."""
        with session_scope(self.sessions) as session:
            stale = list(session.scalars(select(Deployment).where(Deployment.status == "in_progress")))
            families: set[tuple[str, str]] = set()
            for deployment in stale:
                finish_deployment(session, deployment.id, status="failed", error=INTERRUPTED)
                discard_deploy_inputs(self.settings.data_dir, deployment.id)
                if deployment.kind != "preview":
                    families.add(
                        (
                            deployment.job_name,
                            deployment.infrastructure_target or self.settings.default_infrastructure_target,
                        )
                    )
            for revision in session.scalars(select(FamilyRevision).where(FamilyRevision.status == "pending")):
                set_revision_status(session, revision, "failed", error=INTERRUPTED)
            for job in session.scalars(select(Job).where(Job.status == "starting")):
                job.status, job.error = "error", INTERRUPTED
        for family_name, target in families:
            self._restore(family_name, target)

    def start_monitor(self, interval: float) -> None:
        """Checks every `interval` seconds that each job's container runs, and sets its status."""
        self._monitor_stop = threading.Event()

        def loop() -> None:
            while not self._monitor_stop.wait(interval):
                try:
                    self.check_jobs()
                except Exception:
                    logger.exception("job monitor round failed")

        threading.Thread(target=loop, name="monitor", daemon=True).start()

    def check_jobs(self) -> None:
        """One monitor round over Docker jobs: running, error (stopped, restarting) or lost (gone)."""
        import docker

        client = docker.from_env()
        states: dict[tuple[str, str], Any] = {}
        for container in client.containers.list(
            all=True, filters={"label": ["racetrack/resource=job", "racetrack/replica=0"]}
        ):
            key = (container.labels.get("racetrack/job-name"), container.labels.get("racetrack/job-version"))
            states[key] = container
        with session_scope(self.sessions) as session:
            jobs = session.scalars(
                select(Job).where(
                    Job.infrastructure_target == "docker", Job.status.in_(("running", "error", "lost"))
                )
            )
            for job in jobs:
                container = states.get((job.name, job.version))
                if container is None:
                    status, error = "lost", "its container is gone; reconcile the job to bring it back"
                elif container.status == "running":
                    status, error = "running", None
                else:
                    status = "error"
                    error = f"its container is {container.status}: {_log_tail(container)}"
                if (job.status, job.error) != (status, error):
                    job.status, job.error = status, error

    # Operations ---------------------------------------------------------------------------------

    def _run(self, deployment_id: str) -> None:
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            kind, parameters = deployment.kind, dict(deployment.parameters or {})
        try:
            operation = parameters.get("operation")
            if operation == "rollback":
                self._rollback(deployment_id, parameters, preview=kind == "preview")
            elif operation in ("reconcile", "refresh"):
                self._reconcile(deployment_id, report_only=operation == "refresh")
            elif kind in ("deploy", "preview"):
                self._deploy(deployment_id, preview=kind == "preview")
            elif kind == "delete":
                self._delete(deployment_id)
            else:
                raise InvalidInput(f"unknown operation kind {kind!r}")
        except PlatformError as exc:
            self._fail(deployment_id, exc.message + (f"\n{exc.details}" if exc.details else ""))
        except Exception as exc:
            logger.exception("deployment %s failed unexpectedly", deployment_id)
            self._fail(deployment_id, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            discard_deploy_inputs(self.settings.data_dir, deployment_id)

    def _deploy(self, deployment_id: str, *, preview: bool) -> None:
        from jobtypes.build import plan_build
        from jobtypes.runtime import RESERVED_ENV, job_runtime_env

        inputs = load_deploy_inputs(self.settings.data_dir, deployment_id)
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            manifest = yaml.safe_load(deployment.manifest)
            target = deployment.infrastructure_target or self.settings.default_infrastructure_target
            deployed_by = deployment.deployed_by
        name, version = manifest["name"], str(manifest.get("version", "0.0.1"))
        workspace = self.settings.data_dir / "workspaces" / deployment_id
        log_path = self._log_path(deployment_id)
        try:
            self._phase(deployment_id, "fetching source code")
            source = self._fetch_source(workspace, manifest, inputs, log_path)
            self._phase(deployment_id, "preparing job type")
            secret_vars = inputs.get("secret_vars") or {}
            plan = plan_build(
                manifest,
                source,
                build_id="pending",
                settings=self.settings,
                secret_build_env=secret_vars.get("build_env") or None,
                log=lambda line: _append(log_path, line),
            )
            images = images_from_plan(plan, version)
            secret_runtime = dict(secret_vars.get("runtime_env") or {})
            with session_scope(self.sessions) as session:
                family = ensure_family(session, name)
                known = current_spec(session, family, target, self.sealer, {}).version(version)
            if not secret_vars and known is not None:
                # A redeploy from the dashboard or the API has no client to send secrets:
                # keep the recorded ones.
                secret_runtime = {k: v for k, v in known.run.secret_env.items() if k != "AUTH_TOKEN"}
            clash = sorted(RESERVED_ENV.intersection(secret_runtime))
            if clash:
                raise InvalidInput(
                    f"secret_runtime_env sets {', '.join(clash)}, which the platform sets; rename them"
                )
            with session_scope(self.sessions) as session:
                family = ensure_family(session, name)
                _, family_token = primary_token(
                    session, subject_for_family(session, family), self.settings.signing_key()
                )
                spec = current_spec(
                    session, family, target, self.sealer, self._target_settings(target, log_path)
                )
            timestamp = int(time.time())
            env = job_runtime_env(
                manifest,
                pub_url=self._job_pub_url(),
                auth_token="",
                deployment_timestamp=timestamp,
                job_type_env=plan.runtime_env,
            )
            env.pop("AUTH_TOKEN")
            env.pop("JOB_DEPLOYMENT_TIMESTAMP")
            version_spec = version_from_plan(
                manifest,
                images,
                env=env,
                secret_env={"AUTH_TOKEN": family_token, **secret_runtime},
                timestamp=timestamp,
            )
            existing = spec.version(version)
            if existing is not None and _same_version(existing, version_spec):
                # Nothing about this version changed: keep its timestamp so the stack sees no change.
                version_spec = dataclasses.replace(
                    version_spec, deployment_timestamp=existing.deployment_timestamp, labels=existing.labels
                )
                if not preview and self._serving(name, version):
                    self._finish_unchanged(deployment_id, spec.revision)
                    return
            desired = with_version(spec, version_spec)
            if preview:
                self._phase(deployment_id, "previewing changes")
                result = self.runner.run(
                    "preview", _label_revision(desired, version, "next"), log_path=str(log_path)
                )
                self._finish_preview(deployment_id, result)
                return
            self._apply(
                deployment_id,
                desired,
                changed_version=version,
                operation="deploy",
                deployed_by=deployed_by,
                manifest=manifest,
                job_type=plan.job_type,
                log_path=log_path,
            )
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    def _rollback(self, deployment_id: str, parameters: dict[str, Any], *, preview: bool) -> None:
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            family = get_family(session, deployment.job_name)
            if family is None:
                raise NotFound(f"job family {deployment.job_name} was not found")
            target = deployment.infrastructure_target or self.settings.default_infrastructure_target
            deployed_by = deployment.deployed_by
            applied = applied_revisions(session, family, target)
            if not applied:
                raise NotFound(f"job family {family.name} has no applied revision to roll back from")
            current = revision_spec(applied[0], self.sealer)
            version = parameters.get("version")
            if parameters.get("to_revision") is not None:
                chosen = revision_spec(
                    find_revision(session, family, target, int(parameters["to_revision"])), self.sealer
                )
            else:
                chosen = None
                for revision in applied[1:]:
                    candidate = revision_spec(revision, self.sealer)
                    if version is None or candidate.version(version) != current.version(version):
                        chosen = candidate
                        break
                if chosen is None:
                    raise NotFound(
                        f"job family {family.name} has no earlier revision"
                        + (f" with another state of version {version}" if version else "")
                    )
            settings = self._target_settings(target, self._log_path(deployment_id))
        if version is not None:
            wanted = chosen.version(version)
            if wanted is None:
                raise NotFound(
                    f"version {version} is not part of revision {chosen.revision}; "
                    f"see `racetrack history {family.name}`"
                )
            desired = with_version(dataclasses.replace(current, target_settings=settings), wanted)
        else:
            desired = dataclasses.replace(chosen, target_settings=settings)
        if preview:
            self._phase(deployment_id, f"previewing a rollback to revision {chosen.revision}")
            self._finish_preview(
                deployment_id,
                self.runner.run("preview", desired, log_path=str(self._log_path(deployment_id))),
            )
            return
        self._apply(
            deployment_id,
            desired,
            changed_version=version,
            operation=f"rollback to {chosen.revision}",
            deployed_by=deployed_by,
            log_path=self._log_path(deployment_id),
        )

    def _reconcile(self, deployment_id: str, *, report_only: bool) -> None:
        """Refresh reports drift; reconcile re-applies the last applied revision after refreshing."""
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            family = get_family(session, deployment.job_name)
            if family is None:
                raise NotFound(f"job family {deployment.job_name} was not found")
            target = deployment.infrastructure_target or self.settings.default_infrastructure_target
            spec = current_spec(
                session,
                family,
                target,
                self.sealer,
                self._target_settings(target, self._log_path(deployment_id)),
            )
        if not spec.versions:
            raise NotFound(f"job family {family.name} has no applied revision on {target}")
        self._phase(
            deployment_id, "comparing with what runs" if report_only else "re-applying the last revision"
        )
        result = self.runner.run(
            "refresh" if report_only else "reconcile", spec, log_path=str(self._log_path(deployment_id))
        )
        if not result.ok:
            raise _failure(result)
        with session_scope(self.sessions) as session:
            if not report_only:
                self._sync_jobs(session, spec, result.outputs)
                record_audit(
                    session,
                    "job_redeployed",
                    executor=get_deployment(session, deployment_id).deployed_by,
                    job_name=spec.family,
                    properties={"operation": "reconcile", "revision": spec.revision},
                )
            deployment = finish_deployment(session, deployment_id, status="done", preview=result.plan)
            deployment.phase = None

    def _delete(self, deployment_id: str) -> None:
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            family = get_family(session, deployment.job_name)
            target = deployment.infrastructure_target or self.settings.default_infrastructure_target
            if family is None:
                finish_deployment(session, deployment_id, status="done")
                return
            spec = current_spec(
                session,
                family,
                target,
                self.sealer,
                self._target_settings(target, self._log_path(deployment_id)),
            )
            deployed_by = deployment.deployed_by
            version = deployment.job_version
        self._apply(
            deployment_id,
            without_version(spec, version),
            changed_version=None,
            operation=f"delete {version}",
            deployed_by=deployed_by,
            log_path=self._log_path(deployment_id),
        )

    # Shared steps -------------------------------------------------------------------------------

    def _apply(
        self,
        deployment_id: str,
        desired: FamilySpec,
        *,
        changed_version: str | None,
        operation: str,
        deployed_by: str | None,
        log_path: Path,
        manifest: dict | None = None,
        job_type: str | None = None,
    ) -> None:
        """Records `desired` as the next revision, runs the stack to it and updates the registry."""
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
                and numbered.version(changed_version).labels.get("racetrack/revision") == "pending"
            ):
                numbered = _label_revision(numbered, changed_version, str(revision.number))
            revision.desired_state = sealed_state(numbered, self.sealer)
            revision_id = revision.id
            get_deployment(session, deployment_id).revision_number = revision.number
            if manifest is not None:
                upsert_job(
                    session,
                    name=desired.family,
                    version=changed_version,
                    status="starting",
                    manifest=yaml.safe_dump(manifest, sort_keys=False),
                    deployment_id=deployment_id,
                    infrastructure_target=desired.target,
                )
        self._phase(
            deployment_id, "building image and creating resources" if manifest else "updating resources"
        )
        operation_kind = "destroy" if not numbered.versions else "up"
        with _LogPump(self.sessions, deployment_id, log_path):
            result = self.runner.run(operation_kind, numbered, log_path=str(log_path))
        if not result.ok:
            with session_scope(self.sessions) as session:
                set_revision_status(
                    session, session.get(FamilyRevision, revision_id), "failed", error=result.error
                )
            self._restore(desired.family, desired.target)
            raise _failure(result)
        self._phase(deployment_id, "updating the registry")
        with session_scope(self.sessions) as session:
            set_revision_status(
                session, session.get(FamilyRevision, revision_id), "applied", summary=result.summary
            )
            self._sync_jobs(session, numbered, result.outputs)
            if manifest is not None:
                job = upsert_job(
                    session,
                    name=desired.family,
                    version=changed_version,
                    status="running",
                    error=None,
                    deployed_by=deployed_by,
                    job_type_version=job_type,
                    replicas=int(manifest.get("replicas") or 1),
                    image_ref=numbered.version(changed_version).main_image.tag,
                )
                self._grant_deployer(session, deployed_by, job)
                for endpoint in manifest.get("public_endpoints") or []:
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
            deployment = finish_deployment(
                session,
                deployment_id,
                status="done",
                image_name=numbered.version(changed_version).main_image.tag
                if changed_version and numbered.version(changed_version)
                else None,
            )
            deployment.phase = None

    def _sync_jobs(self, session: Session, spec: FamilySpec, outputs: dict[str, Any]) -> None:
        """Makes the registry's versions of a family match what the stack now runs."""
        versions = outputs.get("versions") or {}
        for job in list(
            session.scalars(
                select(Job).where(Job.name == spec.family, Job.infrastructure_target == spec.target)
            )
        ):
            if job.version in versions:
                addresses = versions[job.version].get("addresses") or []
                job.internal_name = addresses[0] if addresses else None
                job.replica_internal_names = addresses
                job.image_ref = spec.version(job.version).main_image.tag
                if job.status in ("starting", "lost", "error"):
                    job.status, job.error = "running", None
            elif job.status != "starting":
                trash_job(session, job, deleted_by="rollback")
        for version, out in versions.items():
            if session.scalar(select(Job).where(Job.name == spec.family, Job.version == version)) is None:
                addresses = out.get("addresses") or []
                upsert_job(
                    session,
                    name=spec.family,
                    version=version,
                    status="running",
                    internal_name=addresses[0] if addresses else None,
                    replica_internal_names=addresses,
                    infrastructure_target=spec.target,
                    image_ref=spec.version(version).main_image.tag,
                )

    def _restore(self, family_name: str, target: str) -> None:
        """Brings a family's stack back to its last applied revision (after a failure or a crash)."""
        with session_scope(self.sessions) as session:
            family = get_family(session, family_name)
            if family is None:
                return
            spec = current_spec(session, family, target, self.sealer, self._target_settings(target, None))
        result = self.runner.run("up" if spec.versions else "destroy", spec)
        if not result.ok:
            logger.error(
                "restoring %s on %s failed: %s %s", family_name, target, result.error, result.details
            )
            return
        with session_scope(self.sessions) as session:
            self._sync_jobs(session, spec, result.outputs)

    def _serving(self, name: str, version: str) -> bool:
        with session_scope(self.sessions) as session:
            job = session.scalar(select(Job).where(Job.name == name, Job.version == version))
            return job is not None and job.status == "running"

    def _finish_unchanged(self, deployment_id: str, revision: int) -> None:
        """A redeploy that changes nothing: the serving revision stays, and no stack update runs."""
        with session_scope(self.sessions) as session:
            deployment = finish_deployment(session, deployment_id, status="done")
            deployment.revision_number = revision
            deployment.phase = None
            deployment.warnings = "\n".join(
                filter(
                    None,
                    [
                        deployment.warnings,
                        f"nothing changed: revision {revision} stays in force "
                        "(reconcile the job to re-apply it)",
                    ],
                )
            )

    def _finish_preview(self, deployment_id: str, result: OperationResult) -> None:
        if not result.ok:
            raise _failure(result)
        with session_scope(self.sessions) as session:
            deployment = finish_deployment(session, deployment_id, status="done", preview=result.plan)
            deployment.phase = None

    def _fetch_source(self, workspace: Path, manifest: dict, inputs: dict, log_path: Path):
        from jobtypes.source import fetch_git_source, unpack_build_context

        git = manifest.get("git") or {}
        directory = git.get("directory") or "."
        if inputs.get("build_context"):
            # The client uploads the job's own folder, so git.directory does not apply to it.
            return unpack_build_context(workspace, inputs["build_context"])
        credentials = inputs.get("git_credentials") or {}
        return fetch_git_source(
            workspace,
            remote=git["remote"],
            branch=git.get("branch"),
            directory=directory,
            username=credentials.get("username"),
            token=credentials.get("password"),
            log=lambda line: _append(log_path, line),
            settings=self.settings,
        )

    def _grant_deployer(self, session: Session, deployed_by: str | None, job: Job) -> None:
        user = session.scalar(select(User).where(User.username == deployed_by)) if deployed_by else None
        if user is not None:
            grant_deployer(session, subject_for_user(session, user), job)

    def _phase(self, deployment_id: str, phase: str) -> None:
        with session_scope(self.sessions) as session:
            set_deployment_phase(session, deployment_id, phase)

    def _fail(self, deployment_id: str, reason: str) -> None:
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            finish_deployment(session, deployment_id, status="failed", error=reason)
            if deployment.kind == "deploy":
                job = session.scalar(
                    select(Job).where(Job.name == deployment.job_name, Job.version == deployment.job_version)
                )
                if job is not None and job.status == "starting":
                    session.delete(job)  # a version that never served leaves no trace but the deployment
            record_audit(
                session,
                "deployment_failed",
                executor=deployment.deployed_by,
                job_name=deployment.job_name,
                job_version=deployment.job_version,
                properties={"deployment_id": deployment_id, "error": reason[:500]},
            )

    def _log_path(self, deployment_id: str) -> Path:
        folder = self.settings.data_dir / "build-logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{deployment_id}.log"

    def _job_pub_url(self) -> str:
        return self.settings.job_pub_url or f"http://host.docker.internal:{self.settings.pub_port}/pub"

    def _target_settings(self, target: str, log_path: Path | None) -> dict[str, Any]:
        if target == "docker":
            return {
                "network": self.settings.docker_network,
                "bind_address": self.settings.job_bind_address,
                "build_log_path": str(log_path) if log_path else "",
                "ready_timeout": self.settings.job_ready_timeout,
            }
        if target == "kubernetes":
            return dict(self.settings.kubernetes_settings)
        raise InvalidInput(f"infrastructure_target: {target!r} is not known (accepted: docker, kubernetes)")


def _label_revision(spec: FamilySpec, version: str | None, revision: str) -> FamilySpec:
    """Marks the changed version with the revision that changed it (others keep their labels)."""
    if version is None:
        return spec
    versions = tuple(
        dataclasses.replace(v, labels={**v.labels, "racetrack/revision": revision})
        if v.version == version
        else v
        for v in spec.versions
    )
    return dataclasses.replace(spec, versions=versions)


def _log_tail(container: Any, lines: int = 5) -> str:
    return container.logs(tail=lines).decode("utf-8", "replace").strip()[-500:]


def _same_version(old: VersionSpec, new: VersionSpec) -> bool:
    """Equal but for where this run's build contexts sit, when the version was stamped, and labels."""

    def essence(version: VersionSpec) -> VersionSpec:
        images = tuple(
            dataclasses.replace(i, context="", dockerfile="", secret_files={}) for i in version.images
        )
        return dataclasses.replace(version, images=images, deployment_timestamp=0, labels={})

    return essence(old) == essence(new)


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _failure(result: OperationResult) -> PlatformError:
    return PlatformError(result.error or "the operation failed", details=result.details)


class _LogPump:
    """Copies what a running operation writes to its log file into the deployment's build logs."""

    def __init__(
        self, sessions: sessionmaker[Session], deployment_id: str, path: Path, interval: float = 1.0
    ) -> None:
        self._sessions, self._id, self._path, self._interval = sessions, deployment_id, path, interval
        self._stop = threading.Event()
        self._offset = path.stat().st_size if path.exists() else 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        with session_scope(sessions) as session:
            if path.exists():
                deployment = get_deployment(session, deployment_id)
                deployment.build_logs = path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> _LogPump:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._copy()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._copy()

    def _copy(self) -> None:
        if not self._path.exists():
            return
        with open(self._path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self._offset)
            text = handle.read()
            self._offset = handle.tell()
        if text:
            with session_scope(self._sessions) as session:
                append_build_logs(session, self._id, text)
