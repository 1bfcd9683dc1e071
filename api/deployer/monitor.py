"""The job monitor: every few seconds, each job's status from what its target runs.

One round, for each target that reports its replicas (stacks/target.py `replicas()`):

- each running replica with an address is asked `/live` over HTTP, as pub would reach it, on targets
  whose addresses the lifecycle reaches (`live_probes = True`: Docker): a process that hangs or
  answers 500 makes its job `error` although its container runs;
- a job is `running` (all its replicas run and are live), `error` (one is not) or `lost` (none left);
- the registry follows replicas that moved (a restart gave them a new address) and leaves replicas that
  drain (a deploy is replacing or removing them), so pub stops calling them before they stop;
- a lost job's family is reconciled (its last applied revision re-applied), at most once per
  `monitor_reconcile_interval` seconds, recorded in the audit log as `lost_job_reconcile`;
- orphans, job containers whose job the registry does not hold, are reported (log, audit
  `orphan_container_found`, metric). One is removed (audit `orphan_container_removed`) only when it is
  clearly ours and clearly orphaned: it carries this installation's label, no operation of its family
  is in progress, and it was an orphan in the round before too. Others (another installation's
  containers on a shared engine, those from before the label existed) are only reported.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db import Deployment, Job, session_scope
from api.db.repository import create_deployment, maintenance_mode, record_audit
from api.deployer.operations import UNRESPONSIVE, followed_addresses, job_condition
from api.deployer.targets import Targets
from api.metrics import MONITOR_ORPHANS, MONITOR_PROBE_FAILURES, MONITOR_RECONCILES, MONITOR_ROUNDS
from core.errors import PlatformError
from stacks.target import DRAINING, Replica

__all__ = ["JobMonitor", "LIVE_TIMEOUT"]

logger = logging.getLogger("racetrack.deployer")

LIVE_TIMEOUT = 3.0  # seconds a replica has to answer /live before it counts as unresponsive
WATCHED = ("starting", "running", "error", "lost")


class JobMonitor:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        targets: Targets,
        default_target: str,
        *,
        installation: str = "",
        reconcile_interval: float = 0.0,
        submit: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions, self.targets, self.default_target = sessions, targets, default_target
        self.installation, self.reconcile_interval, self.submit = installation, reconcile_interval, submit
        self._stop = threading.Event()
        self._round = threading.Lock()  # event-triggered and timed rounds take turns
        self._reconciled: dict[str, float] = {}  # family -> when the monitor last reconciled it
        self._orphans: set[str] = set()  # orphan containers seen in the last round
        self._reported: set[str] = set()  # orphan containers already in the audit log

    def start(self, interval: float) -> None:
        """Checks every `interval` seconds, in a thread of its own, until `stop`."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self._checked_safely()

        threading.Thread(target=loop, name="monitor", daemon=True).start()
        # Between rounds, the targets' own events (a job's container restarted elsewhere, or set to
        # drain by a deploy) trigger a round at once.
        for target in self.targets.watched():
            threading.Thread(
                target=target.watch,
                args=(self._checked_safely, self._stop),
                name="monitor-events",
                daemon=True,
            ).start()

    def _checked_safely(self) -> None:
        try:
            self.check_jobs()
        except Exception:
            logger.exception("job monitor round failed")

    def stop(self) -> None:
        self._stop.set()

    def check_jobs(self) -> None:
        with self._round:
            self._check_jobs()

    def _check_jobs(self) -> None:
        MONITOR_ROUNDS.inc()
        # What runs is read before the registry: a container that a deploy starts after this read
        # cannot be taken for an orphan, as its deploy is then in progress or done in what is read next.
        observed = self._observe()
        with session_scope(self.sessions) as session:
            jobs = list(session.scalars(select(Job).where(Job.status.in_(WATCHED))))
            busy = set(session.scalars(select(Deployment.job_name).where(Deployment.status == "in_progress")))
            lost: set[tuple[str, str]] = set()
            for job in jobs:
                replicas = observed.get(job.infrastructure_target or self.default_target)
                if replicas is None:
                    continue  # a target that watches its jobs itself, or cannot be read now
                # On an engine shared by installations, a container labelled as another's is not ours.
                found = [
                    r
                    for r in replicas.get((job.name, job.version), [])
                    if r.installation in ("", self.installation)
                ]
                if self._follow(job, found, settled=job.name not in busy) == "lost":
                    lost.add((job.name, job.infrastructure_target or self.default_target))
            known = {(job.name, job.version) for job in session.scalars(select(Job))}
            self._collect_orphans(session, observed, known, busy)
            lost = {(family, target) for family, target in lost if family not in busy}
            if lost and not maintenance_mode(session):
                self._reconcile_lost(session, lost)

    def _observe(self) -> dict[str, dict[tuple[str, str], list[Replica]] | None]:
        """Each target's replicas, those that run asked /live; None for a target not watched."""
        with session_scope(self.sessions) as session:
            used = session.scalars(select(Job.infrastructure_target).where(Job.status.in_(WATCHED)))
            targets = {name or self.default_target for name in used} | {self.default_target}
        observed: dict[str, dict[tuple[str, str], list[Replica]] | None] = {}
        for name in targets:
            try:
                observed[name] = self.targets.get(name).replicas()
            except PlatformError as exc:  # e.g. a plugin target no longer installed
                logger.warning("monitor: cannot read target %s: %s", name, exc.message)
                observed[name] = None
            except Exception as exc:  # noqa: BLE001 - e.g. the Docker engine restarting: the others count
                logger.warning("monitor: cannot read target %s: %s", name, exc)
                observed[name] = None
        with session_scope(self.sessions) as session:
            rows = session.execute(select(Job.name, Job.version).where(Job.status.in_(WATCHED)))
            watched = {(name, version) for name, version in rows}
        probed = [
            (replicas, i)
            for target, by_job in observed.items()
            if getattr(self.targets.get(target), "live_probes", False)
            for job, replicas in (by_job or {}).items()
            if job in watched  # not another installation's containers on a shared engine
            for i, replica in enumerate(replicas)
            if replica.state == "running" and replica.address
        ]
        if probed:
            with (
                httpx.Client(timeout=LIVE_TIMEOUT, trust_env=False) as client,
                concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="monitor-live") as pool,
            ):
                answers = list(pool.map(lambda item: _live(client, item[0][item[1]]), probed))
            for (replicas, i), problem in zip(probed, answers, strict=True):
                if problem:
                    replicas[i] = dataclasses.replace(replicas[i], state=UNRESPONSIVE, detail=problem)
        return observed

    def _follow(self, job: Job, replicas: list[Replica], *, settled: bool) -> str:
        """Sets the job's addresses from its replicas, and its status unless an operation of its family
        is in progress (`settled` false: the operation sets it when it ends)."""
        serving = [r for r in replicas if r.state != DRAINING]
        for replica in serving:
            if replica.state == UNRESPONSIVE:
                MONITOR_PROBE_FAILURES.labels(job.name).inc()
        status, error = job_condition(serving, job.replicas)
        settled = settled and (bool(serving) or not replicas)  # all draining: a stack run removes them
        if settled and job.status != "starting" and (job.status, job.error) != (status, error):
            job.status, job.error = status, error
        registered = list(job.replica_internal_names or [])
        moved = followed_addresses(registered, replicas)
        if registered and moved != registered:
            # pub asks the lifecycle again when an address takes no connection, and at the latest when
            # its cached answer expires (pub_auth_cache_ttl): it finds these
            job.internal_name, job.replica_internal_names = moved[0], moved
        return status if settled else job.status

    def _collect_orphans(
        self,
        session: Session,
        observed: dict[str, dict[tuple[str, str], list[Replica]] | None],
        known: set[tuple[str, str]],
        busy: set[str],
    ) -> None:
        orphans: dict[str, tuple[str, tuple[str, str], Replica]] = {}
        for target, by_job in observed.items():
            for job, replicas in (by_job or {}).items():
                if job in known or job[0] in busy:
                    continue
                for replica in replicas:
                    if replica.state != DRAINING:
                        orphans[replica.name] = (target, job, replica)
        MONITOR_ORPHANS.set(len(orphans))
        for container, (target, job, replica) in orphans.items():
            properties: dict[str, Any]
            ours = bool(self.installation) and replica.installation == self.installation
            remove = getattr(self.targets.get(target), "remove_replica", None)
            if ours and container in self._orphans and remove is not None:
                remove(container)
                logger.warning("monitor: removed orphan container %s of %s", container, job)
                event, properties = "orphan_container_removed", {"container": container, "target": target}
                self._reported.discard(container)
            elif container not in self._reported:
                self._reported.add(container)
                why = "" if ours else "; left in place: it is not labelled as this installation's"
                logger.warning("monitor: orphan container %s of unknown job %s%s", container, job, why)
                event, properties = (
                    "orphan_container_found",
                    {"container": container, "target": target, "ours": ours},
                )
            else:
                continue
            record_audit(
                session, event, executor=None, job_name=job[0], job_version=job[1], properties=properties
            )
        self._orphans = set(orphans)

    def _reconcile_lost(self, session: Session, lost: set[tuple[str, str]]) -> None:
        if self.reconcile_interval <= 0 or self.submit is None:
            return
        now = time.monotonic()
        submitted = []
        for family, target in sorted(lost):
            last = self._reconciled.get(family)
            if last is not None and now - last < self.reconcile_interval:
                continue
            self._reconciled[family] = now
            deployment = create_deployment(
                session,
                kind="deploy",
                status="in_progress",
                job_name=family,
                infrastructure_target=target,
                parameters={"operation": "reconcile"},
            )
            record_audit(
                session,
                "lost_job_reconcile",
                executor=None,
                job_name=family,
                properties={"deployment_id": deployment.id, "reason": "its containers are gone"},
            )
            logger.warning("monitor: job family %s is lost; reconciling it (%s)", family, deployment.id)
            submitted.append(deployment.id)
        session.commit()
        for deployment_id in submitted:
            MONITOR_RECONCILES.inc()
            self.submit(deployment_id)


def _live(client: httpx.Client, replica: Replica) -> str:
    """Nothing when the replica answers /live with 200, else what it did."""
    try:
        response = client.get(f"http://{replica.address}/live")
    except httpx.TimeoutException:
        return f"/live did not answer within {LIVE_TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        return f"/live could not be reached: {type(exc).__name__}"
    if response.status_code == 200:
        return ""
    return f"/live answered {response.status_code}: {response.text[:200]}"
