"""The lifecycle's Prometheus metrics, served at `/metrics` (see api/lifecycle/routes/metrics.py).

Counters and histograms live in prometheus_client's process-wide registry, next to its process and
Python collectors and to the stack runner's `racetrack_stack_operation_duration_seconds`
(stacks/runner.py); what is read from the database (jobs by status) is collected when scraped.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.db import Job, session_scope

__all__ = [
    "DeploymentTimer",
    "JobsCollector",
    "MONITOR_ORPHANS",
    "MONITOR_PROBE_FAILURES",
    "MONITOR_RECONCILES",
    "MONITOR_ROUNDS",
    "REQUESTS",
    "REQUEST_SECONDS",
]

# Deploys take seconds to many minutes; API requests milliseconds.
_OPERATION_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)

REQUESTS = Counter(
    "racetrack_lifecycle_requests",
    "Requests the lifecycle answered, by method, route template and status code",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "racetrack_lifecycle_request_duration_seconds",
    "Time the lifecycle took to answer a request, by method and route template",
    ["method", "route"],
)
DEPLOYMENT_SECONDS = Histogram(
    "racetrack_deployment_duration_seconds",
    "Duration of deploy engine operations (deploy, redeploy, rollback, reconcile, refresh, delete, "
    "preview) by outcome (done or failed); the _count is how many ended so",
    ["operation", "outcome"],
    buckets=_OPERATION_BUCKETS,
)
PHASE_SECONDS = Histogram(
    "racetrack_deployment_phase_duration_seconds",
    "Duration of each phase of a deploy engine operation; outcome is failed for the phase an "
    "operation failed in, else done",
    ["operation", "phase", "outcome"],
    buckets=_OPERATION_BUCKETS,
)
MONITOR_ROUNDS = Counter("racetrack_monitor_rounds", "Rounds of the job monitor")
MONITOR_PROBE_FAILURES = Counter(
    "racetrack_monitor_live_probe_failures",
    "Replicas whose /live did not answer 200 when the monitor asked",
    ["job"],
)
MONITOR_ORPHANS = Gauge(
    "racetrack_monitor_orphan_containers",
    "Job containers the registry does not know, found in the monitor's last round (not yet removed)",
)
MONITOR_RECONCILES = Counter(
    "racetrack_monitor_reconciles",
    "Reconciles the monitor started on its own for lost jobs",
)


def phase_label(phase: str) -> str:
    """A phase's text without the numbers in it ("previewing a rollback to revision 3"), so that the
    label has a few values only."""
    return re.sub(r"\d+", "N", phase)


class DeploymentTimer:
    """Times each operation and its phases, as the deploy engine announces them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, str | None, float, float]] = {}

    def started(self, deployment_id: str, operation: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._running[deployment_id] = (operation, None, now, now)

    def phase(self, deployment_id: str, phase: str) -> None:
        now = time.monotonic()
        with self._lock:
            found = self._running.get(deployment_id)
            if found is None:
                return
            operation, previous, began, phase_began = found
            if previous is not None:
                PHASE_SECONDS.labels(operation, phase_label(previous), "done").observe(now - phase_began)
            self._running[deployment_id] = (operation, phase, began, now)

    def ended(self, deployment_id: str, outcome: str) -> None:
        now = time.monotonic()
        with self._lock:
            found = self._running.pop(deployment_id, None)
        if found is None:
            return
        operation, phase, began, phase_began = found
        if phase is not None:
            PHASE_SECONDS.labels(operation, phase_label(phase), outcome).observe(now - phase_began)
        DEPLOYMENT_SECONDS.labels(operation, outcome).observe(now - began)


class JobsCollector(Collector):
    """`racetrack_jobs{status}`: how many jobs the registry holds in each status, read when scraped."""

    STATUSES = ("starting", "running", "error", "lost")

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("racetrack_jobs", "Jobs in the registry by status", labels=["status"])
        with session_scope(self.sessions) as session:
            counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        for status in sorted(set(self.STATUSES) | set(counts)):
            family.add_metric([status], counts.get(status, 0))
        yield family
