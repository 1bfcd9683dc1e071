"""The job monitor: every few seconds, each job's status from what its target runs."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db import Job, session_scope
from api.deployer.operations import followed_addresses, job_condition
from api.deployer.targets import Targets
from core.errors import PlatformError

__all__ = ["JobMonitor"]

logger = logging.getLogger("racetrack.deployer")


class JobMonitor:
    def __init__(self, sessions: sessionmaker[Session], targets: Targets, default_target: str) -> None:
        self.sessions, self.targets, self.default_target = sessions, targets, default_target
        self._stop = threading.Event()

    def start(self, interval: float) -> None:
        """Checks every `interval` seconds, in a thread of its own, until `stop`."""

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.check_jobs()
                except Exception:
                    logger.exception("job monitor round failed")

        threading.Thread(target=loop, name="monitor", daemon=True).start()
        # Between rounds, the targets' own events (a job's container restarted elsewhere) trigger a
        # round at once.
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
        """One round: each job is running (all its replicas run), error (one does not) or lost."""
        with session_scope(self.sessions) as session:
            jobs = list(session.scalars(select(Job).where(Job.status.in_(("running", "error", "lost")))))
            observed: dict[str, Any] = {}
            for job in jobs:
                target = job.infrastructure_target or self.default_target
                if target not in observed:
                    try:
                        observed[target] = self.targets.get(target).replicas()
                    except PlatformError as exc:  # e.g. a plugin target no longer installed
                        logger.warning("monitor: cannot read target %s: %s", target, exc.message)
                        observed[target] = None
                if observed[target] is None:
                    continue  # a target that watches its jobs itself
                replicas = observed[target].get((job.name, job.version), [])
                status, error = job_condition(replicas, job.replicas)
                if (job.status, job.error) != (status, error):
                    job.status, job.error = status, error
                registered = list(job.replica_internal_names or [])
                moved = followed_addresses(registered, replicas)
                if status == "running" and registered and moved != registered:
                    # pub asks the lifecycle again when an address takes no connection: it finds these
                    job.internal_name, job.replica_internal_names = moved[0], moved
