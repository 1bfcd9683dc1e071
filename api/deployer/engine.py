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
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.auth.subjects import subject_for_family
from api.auth.tokens import primary_token
from api.db import Deployment, FamilyRevision, Job, TrashJob, session_scope
from api.db.repository import (
    discard_deploy_inputs,
    ensure_family,
    finish_deployment,
    get_deployment,
    get_family,
    load_deploy_inputs,
    record_audit,
    set_deployment_phase,
    set_revision_status,
)
from api.deployer.apply import RevisionApplier
from api.deployer.desired import (
    applied_revisions,
    current_spec,
    find_revision,
    images_from_plan,
    revision_spec,
    version_from_plan,
    with_version,
    without_version,
)
from api.deployer.logpump import LogPump, append_line
from api.deployer.monitor import JobMonitor
from api.deployer.operations import (
    failure,
    keeps_recorded_secrets,
    label_revision,
    rollback_state,
    same_version,
)
from api.deployer.sealing import Sealer
from api.deployer.targets import Targets
from api.errors import InvalidInput, NotFound, PlatformError
from api.metrics import DeploymentTimer
from api.plugin_hooks import HookFailed, call_hooks, job_view
from api.settings import Settings
from jobtypes.manifest import Manifest, job_manifest
from stacks.engine import EngineConfig
from stacks.runner import OperationResult, StackRunner
from stacks.target import LogFollower

if TYPE_CHECKING:
    from jobtypes.source import SourceInfo

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
        self.targets = Targets(settings)
        self.applier = RevisionApplier(sessions, self.sealer, self.runner, self.targets, self._phase)
        self.monitor = JobMonitor(
            sessions,
            self.targets,
            settings.default_infrastructure_target,
            installation=settings.installation_id(),
            reconcile_interval=settings.monitor_reconcile_interval,
            submit=self.submit,
        )
        self._threads = concurrent.futures.ThreadPoolExecutor(max_parallel * 2, thread_name_prefix="deploy")
        self._futures: set[concurrent.futures.Future[None]] = set()
        self._by_id: dict[str, concurrent.futures.Future[None]] = {}
        self.timer = DeploymentTimer()

    # The lifecycle's interface ------------------------------------------------------------------

    def submit(self, deployment_id: str) -> None:
        future = self._threads.submit(self._run, deployment_id)
        self._futures.add(future)
        self._by_id[deployment_id] = future
        future.add_done_callback(self._futures.discard)
        future.add_done_callback(lambda _: self._by_id.pop(deployment_id, None))

    def wait(self, deployment_id: str, timeout: float) -> None:
        """Blocks until the operation ends or `timeout` seconds pass (its row then says how it ended)."""
        future = self._by_id.get(deployment_id)
        if future is not None:
            concurrent.futures.wait([future], timeout=timeout)

    def wait_idle(self, timeout: float | None = None) -> None:
        concurrent.futures.wait(list(self._futures), timeout=timeout)

    def shutdown(self) -> None:
        self.monitor.stop()
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.runner.shutdown()

    def runtime_logs(self, name: str, version: str, tail: int = 20) -> str:
        """The last `tail` lines (0: all) of every replica of the job, as its target reads them."""
        with session_scope(self.sessions) as session:
            job = session.scalar(select(Job).where(Job.name == name, Job.version == version))
            target = job.infrastructure_target if job is not None else None
        return self.targets.get(target).runtime_logs(name, version, tail)

    def follow_logs(self, name: str, version: str, tail: int, target: str | None) -> LogFollower | None:
        """The job's log lines as they come, from its target; None when the target cannot follow."""
        return self.targets.get(target).follow_logs(name, version, tail)

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
                    moved_from = (deployment.parameters or {}).get("from")
                    if moved_from:  # a move touches two targets
                        families.add((deployment.job_name, moved_from))
            for revision in session.scalars(select(FamilyRevision).where(FamilyRevision.status == "pending")):
                set_revision_status(session, revision, "failed", error=INTERRUPTED)
            for job in session.scalars(select(Job).where(Job.status == "starting")):
                job.status, job.error = "error", INTERRUPTED
        for family_name, target in families:
            self.applier.restore(family_name, target)

    def start_monitor(self, interval: float) -> None:
        """Checks every `interval` seconds that each job's replicas run, and sets its status."""
        self.monitor.start(interval)

    def check_jobs(self) -> None:
        """One monitor round (see monitor.py)."""
        self.monitor.check_jobs()

    # Operations ---------------------------------------------------------------------------------

    def _run(self, deployment_id: str) -> None:
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            kind, parameters = deployment.kind, dict(deployment.parameters or {})
        operation = parameters.get("operation")
        self.timer.started(deployment_id, kind if kind == "preview" else operation or kind)
        try:
            if operation == "rollback":
                self._rollback(deployment_id, parameters, preview=kind == "preview")
            elif operation == "move":
                self._move(deployment_id, str(parameters.get("from")), preview=kind == "preview")
            elif operation in ("reconcile", "refresh"):
                self._reconcile(deployment_id, report_only=operation == "refresh")
            elif kind == "build":
                self._build_only(deployment_id)
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
            with session_scope(self.sessions) as session:
                status = get_deployment(session, deployment_id).status
            self.timer.ended(deployment_id, "done" if status == "done" else "failed")

    def _deploy(self, deployment_id: str, *, preview: bool) -> None:
        from jobtypes.build import plan_build
        from jobtypes.runtime import RESERVED_ENV, job_runtime_env

        inputs = load_deploy_inputs(self.settings.data_dir, deployment_id)
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            manifest_text = deployment.manifest
            if manifest_text is None:
                raise InvalidInput(f"deployment {deployment_id} has no manifest to deploy")
            manifest = job_manifest(yaml.safe_load(manifest_text))
            target = deployment.infrastructure_target or self.settings.default_infrastructure_target
            deployed_by = deployment.deployed_by
            keeps_source = keeps_recorded_secrets(deployment.parameters)
        name, version = manifest.name, manifest.version
        workspace = self.settings.data_dir / "workspaces" / deployment_id
        log_path = self._log_path(deployment_id)
        uploaded = self._uploaded_context(name, version)
        if keeps_source and not inputs.get("build_context") and uploaded.is_file():
            # A redeploy rebuilds the source the version was deployed from: an uploaded folder stays
            # that folder, never the manifest's git repository.
            inputs = {**inputs, "build_context": uploaded.read_text(encoding="ascii")}
        try:
            self._phase(deployment_id, "fetching source code")
            source = self._fetch_source(workspace, manifest, inputs, log_path)
            self._phase(deployment_id, "preparing job type")
            secret_vars = inputs.get("secret_vars") or {}
            plan = plan_build(
                manifest,
                source,
                build_id="pending",
                settings=self.settings.build_settings(),
                secret_build_env=secret_vars.get("build_env") or None,
                log=lambda line: append_line(log_path, line),
            )
            with session_scope(self.sessions) as session:
                list(
                    call_hooks(
                        session,
                        self.settings,
                        "validate_job_manifest",
                        manifest=manifest,
                        job_type=plan.job_type,
                    )
                )
                plugin_env: dict[str, str] = {}
                for _, values in call_hooks(session, self.settings, "job_runtime_env_vars"):
                    plugin_env.update({str(k): str(v) for k, v in (values or {}).items()})
            images = images_from_plan(plan, version)
            no_cache = "--no-cache" in (inputs.get("build_flags") or ())
            if no_cache:
                images = tuple(dataclasses.replace(image, rebuild=deployment_id) for image in images)
            secret_runtime = dict(secret_vars.get("runtime_env") or {})
            with session_scope(self.sessions) as session:
                family = ensure_family(session, name)
                known = current_spec(session, family, target, self.sealer, {}).version(version)
            if keeps_source and known is not None:
                # A redeploy has no client to send secrets: it keeps the recorded ones, as it keeps the
                # recorded manifest. A deploy brings a new source and must bring its secrets with it.
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
                pub_url=self.targets.get(target).job_pub_url(),
                auth_token="",
                deployment_timestamp=timestamp,
                job_type_env={**plugin_env, **plan.runtime_env},
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
            if existing is not None and not no_cache and same_version(existing, version_spec):
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
                    "preview", label_revision(desired, version, "next"), log_path=str(log_path)
                )
                self._finish_preview(deployment_id, result)
                return
            self.applier.apply(
                deployment_id,
                desired,
                changed_version=version,
                operation="deploy",
                deployed_by=deployed_by,
                manifest=manifest,
                manifest_text=manifest_text,
                job_type=plan.job_type,
                log_path=log_path,
            )
            if inputs.get("build_context"):
                _write_private(uploaded, inputs["build_context"])
            else:
                uploaded.unlink(missing_ok=True)
            self._after_hook(
                deployment_id,
                name,
                version,
                "post_job_deploy",
                manifest=manifest,
                image_name=version_spec.main_image.tag,
                deployer_username=deployed_by,
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
            version = parameters.get("version")
            wanted = parameters.get("to_revision")
            desired, chosen = rollback_state(
                revision_spec(applied[0], self.sealer),
                (revision_spec(revision, self.sealer) for revision in applied[1:]),
                version=version,
                chosen=revision_spec(find_revision(session, family, target, int(wanted)), self.sealer)
                if wanted is not None
                else None,
                target_settings=self._target_settings(target, self._log_path(deployment_id)),
            )
        if preview:
            self._phase(deployment_id, f"previewing a rollback to revision {chosen.revision}")
            self._finish_preview(
                deployment_id,
                self.runner.run("preview", desired, log_path=str(self._log_path(deployment_id))),
            )
            return
        self.applier.apply(
            deployment_id,
            desired,
            changed_version=version,
            operation=f"rollback to {chosen.revision}",
            deployed_by=deployed_by,
            log_path=self._log_path(deployment_id),
        )

    def _build_only(self, deployment_id: str) -> None:
        """Builds the job's images on the platform's Docker engine and starts nothing (run-local)."""
        from jobtypes.build import plan_build
        from stacks.docker.build import build_image, image_digest_label
        from stacks.docker.resources import DIGEST_LABEL

        inputs = load_deploy_inputs(self.settings.data_dir, deployment_id)
        with session_scope(self.sessions) as session:
            text = get_deployment(session, deployment_id).manifest
            if text is None:
                raise InvalidInput(f"deployment {deployment_id} has no manifest to build")
            manifest = job_manifest(yaml.safe_load(text))
        workspace = self.settings.data_dir / "workspaces" / deployment_id
        log_path = self._log_path(deployment_id)
        build_settings = self.settings.build_settings()
        try:
            self._phase(deployment_id, "fetching source code")
            source = self._fetch_source(workspace, manifest, inputs, log_path)
            self._phase(deployment_id, "preparing job type")
            plan = plan_build(
                manifest,
                source,
                build_id="pending",
                settings=build_settings,
                secret_build_env=(inputs.get("secret_vars") or {}).get("build_env") or None,
                log=lambda line: append_line(log_path, line),
            )
            images = images_from_plan(plan, manifest.version)
            no_cache = "--no-cache" in (inputs.get("build_flags") or ())
            with LogPump(self.sessions, deployment_id, log_path):
                for index, (built, spec) in enumerate(zip(plan.images, images, strict=True), start=1):
                    self._phase(deployment_id, f"building image {index}/{len(images)}")
                    if not no_cache and image_digest_label(spec.tag) == spec.context_digest:
                        append_line(log_path, f"image {spec.tag} was built before from the same source")
                        continue
                    labelled = dataclasses.replace(
                        built, image=spec.tag, labels={**built.labels, DIGEST_LABEL: spec.context_digest}
                    )
                    build_image(
                        labelled,
                        log=lambda line: append_line(log_path, line),
                        no_cache=no_cache,
                        settings=build_settings,
                    )
            with session_scope(self.sessions) as session:
                finished = finish_deployment(session, deployment_id, status="done", image_name=images[0].tag)
                finished.phase = None
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    def _move(self, deployment_id: str, source: str, *, preview: bool) -> None:
        """Starts the version on the deployment's target from the spec it has on `source` (its images
        are reused, nothing is rebuilt), points the registry at it, then removes it from `source`: a
        revision on each target. A failure on the new target leaves the version serving where it was."""
        log_path = self._log_path(deployment_id)
        with session_scope(self.sessions) as session:
            deployment = get_deployment(session, deployment_id)
            family = get_family(session, deployment.job_name)
            if family is None:
                raise NotFound(f"job family {deployment.job_name} was not found")
            target, version = deployment.infrastructure_target, deployment.job_version
            if target is None or version is None:
                raise InvalidInput(f"deployment {deployment_id} names no target or version to move")
            deployed_by = deployment.deployed_by
            here = current_spec(session, family, source, self.sealer, self._target_settings(source, log_path))
            there = current_spec(
                session, family, target, self.sealer, self._target_settings(target, log_path)
            )
        moving = here.version(version)
        if moving is None:
            raise NotFound(f"job {family.name} v{version} has no applied revision on {source}")
        # The job calls other jobs through the pub its new target gives it.
        run = dataclasses.replace(
            moving.run, env={**moving.run.env, "PUB_URL": self.targets.get(target).job_pub_url()}
        )
        desired_there = with_version(there, dataclasses.replace(moving, run=run))
        desired_here = without_version(here, version)
        if preview:
            self._phase(deployment_id, f"previewing the move from {source} to {target}")
            plans = [
                self.runner.run("preview", spec, log_path=str(log_path))
                for spec in (desired_there, desired_here)
            ]
            failed = next((result for result in plans if not result.ok), None)
            if failed is not None:
                raise failure(failed)
            steps = [step for result in plans for step in (result.plan or {}).get("steps", [])]
            summary: dict[str, int] = {}
            for result in plans:
                for op, count in ((result.plan or {}).get("summary") or {}).items():
                    summary[op] = summary.get(op, 0) + count
            with session_scope(self.sessions) as session:
                finished = finish_deployment(
                    session, deployment_id, status="done", preview={"steps": steps, "summary": summary}
                )
                finished.phase = None
            return
        outputs = self.applier.apply(
            deployment_id,
            desired_there,
            changed_version=None,
            operation=f"move {version} from {source}",
            deployed_by=deployed_by,
            log_path=log_path,
            finish=False,
        )
        # It serves on the new target now: pub is sent there before the old copy goes.
        addresses = self.targets.get(target).addresses((outputs.get("versions") or {}).get(version) or {})
        with session_scope(self.sessions) as session:
            job = session.scalar(select(Job).where(Job.name == family.name, Job.version == version))
            if job is not None:
                job.infrastructure_target = target
                job.internal_name = addresses[0] if addresses else None
                job.replica_internal_names = addresses
        self.applier.apply(
            deployment_id,
            desired_here,
            changed_version=None,
            operation=f"move {version} to {target}",
            deployed_by=deployed_by,
            log_path=log_path,
        )
        with session_scope(self.sessions) as session:
            get_deployment(session, deployment_id).image_name = moving.main_image.tag
            record_audit(
                session,
                "job_moved",
                executor=deployed_by,
                job_name=family.name,
                job_version=version,
                properties={"from": source, "to": target},
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
            raise failure(result)
        with session_scope(self.sessions) as session:
            if not report_only:
                self.applier.sync_jobs(session, spec, result.outputs)
                record_audit(
                    session,
                    "job_redeployed",
                    executor=get_deployment(session, deployment_id).deployed_by,
                    job_name=spec.family,
                    properties={"operation": "reconcile", "revision": spec.revision},
                )
            deployment = finish_deployment(session, deployment_id, status="done", preview=result.plan)
            deployment.phase = None

    def _after_hook(self, deployment_id: str, name: str, version: str, hook: str, **kwargs: Any) -> None:
        """Runs a hook that follows a finished operation (the job passed as `job`); a plugin that fails
        there changes nothing done and is told as a warning of the operation."""
        with session_scope(self.sessions) as session:
            job: Job | TrashJob | None = session.scalar(
                select(Job).where(Job.name == name, Job.version == version)
            )
            if job is None:
                job = session.scalar(
                    select(TrashJob).where(TrashJob.name == name, TrashJob.version == version)
                )
            view = job_view(job) if job is not None else None
            try:
                for _ in call_hooks(session, self.settings, hook, job=view, **kwargs):
                    pass
            except HookFailed as exc:
                deployment = get_deployment(session, deployment_id)
                deployment.warnings = "\n".join(filter(None, [deployment.warnings, exc.message]))

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
        if version is None:
            raise InvalidInput(f"deployment {deployment_id} names no version to delete")
        self.applier.apply(
            deployment_id,
            without_version(spec, version),
            changed_version=None,
            operation=f"delete {version}",
            deployed_by=deployed_by,
            log_path=self._log_path(deployment_id),
        )
        self._uploaded_context(spec.family, version).unlink(missing_ok=True)
        self._after_hook(
            deployment_id, spec.family, version, "post_job_delete", username_executor=deployed_by
        )

    # Shared steps -------------------------------------------------------------------------------

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
            raise failure(result)
        with session_scope(self.sessions) as session:
            deployment = finish_deployment(session, deployment_id, status="done", preview=result.plan)
            deployment.phase = None

    def _fetch_source(
        self, workspace: Path, manifest: Manifest, inputs: dict[str, Any], log_path: Path
    ) -> SourceInfo:
        from jobtypes.source import fetch_git_source, unpack_build_context

        git = manifest.git
        if inputs.get("build_context"):
            # The client uploads the job's own folder, so git.directory does not apply to it.
            return unpack_build_context(workspace, inputs["build_context"])
        credentials = inputs.get("git_credentials") or {}
        return fetch_git_source(
            workspace,
            remote=git.remote,
            branch=git.branch,
            directory=git.directory or ".",
            username=credentials.get("username"),
            token=credentials.get("password"),
            log=lambda line: append_line(log_path, line),
            settings=self.settings.build_settings(),
        )

    def _phase(self, deployment_id: str, phase: str) -> None:
        self.timer.phase(deployment_id, phase)
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

    def _uploaded_context(self, name: str, version: str) -> Path:
        """Where the build context a version was uploaded with is kept (for its redeploys)."""
        return self.settings.data_dir / "build-contexts" / name / f"{version}.tar.gz.b64"

    def _log_path(self, deployment_id: str) -> Path:
        folder = self.settings.data_dir / "build-logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{deployment_id}.log"

    def _target_settings(self, target: str, log_path: Path | None) -> dict[str, Any]:
        return self.targets.get(target).stack_settings(build_log_path=str(log_path) if log_path else None)


def _write_private(path: Path, text: str) -> None:
    """Writes a file only the platform's user reads (an uploaded job folder may hold anything)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
