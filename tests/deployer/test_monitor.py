"""The lifecycle watches what runs, with its defaults: the real lifecycle (deploy engine, Pulumi, Docker),
a deployed job and real containers.

- `/metrics` serves requests, deploy operations and their phases, stack operations and jobs by status,
  to an administrator's token only;
- a job whose process hangs (its container still runs) turns `error` because its `/live` does not
  answer, and `running` again once it answers;
- a job whose containers are removed by hand is reconciled by the monitor on its own, as the audit
  log records;
- an orphan container labelled as this installation's is removed; another installation's is only
  reported.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.settings import Settings
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.probe import deploy_probe, job_container, probe_manifest

pytestmark = pytest.mark.engine

# The monitor checks every 30 s by default and at once on a container's start, stop or rename.
WAIT = 120.0


def _until(what: str, found: Callable[[], object], timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _events(lifecycle: LifecycleProcess, kind: str) -> list[dict]:
    events = lifecycle.request("GET", "/audit/events", params={"limit": 1000}).json()
    return [event for event in events if event["event_type"] == kind]


def test_metrics_live_probes_lost_jobs_and_orphans(
    lifecycle: LifecycleProcess, family: str, families: list[str], tmp_path: Path
) -> None:
    deploy_probe(lifecycle, tmp_path, probe_manifest(family))
    metrics_url = f"http://127.0.0.1:{lifecycle.port}/metrics"

    anonymous = httpx.get(metrics_url)
    assert anonymous.status_code == 401 and "call_admin_api" in anonymous.json()["error"]
    scraped = httpx.get(metrics_url, headers={"Authorization": f"Bearer {lifecycle.token}"})
    assert scraped.status_code == 200, scraped.text
    samples = _samples(scraped.text)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    assert value(
        "racetrack_lifecycle_requests_total", method="POST", route="/lifecycle/api/v1/deploy", status="202"
    )
    assert value("racetrack_deployment_duration_seconds_count", operation="deploy", outcome="done") == 1
    phase = "building image and creating resources"
    assert value(
        "racetrack_deployment_phase_duration_seconds_count", operation="deploy", phase=phase, outcome="done"
    )
    assert value(
        "racetrack_stack_operation_duration_seconds_count", operation="up", target="docker", outcome="ok"
    )
    assert value("racetrack_jobs", status="running") == 1

    def job() -> dict:
        return lifecycle.request("GET", f"/job/{family}/1.0.0").json()

    # The job's process stops answering, its container still runs.
    process = job_container(family).attrs["State"]["Pid"]
    os.kill(process, signal.SIGSTOP)
    try:
        hung = _until("the job turns error", lambda: (found := job())["status"] == "error" and found)
        assert "/live did not answer" in hung["error"], hung  # type: ignore[index]
    finally:
        os.kill(process, signal.SIGCONT)
    _until("the job runs again", lambda: job()["status"] == "running")

    # Its container is removed by hand: the monitor finds the job lost and reconciles it.
    removed = job_container(family)
    removed.remove(force=True)
    _until("the monitor reconciles the lost job", lambda: _events(lifecycle, "lost_job_reconcile"))
    _until("the job runs again", lambda: job()["status"] == "running", timeout=600)
    assert job_container(family).id != removed.id
    served = httpx.post(f"http://{job()['internal_name']}/api/v1/perform", json={}, trust_env=False)
    assert served.status_code == 200, served.text

    # Two containers of a job the registry does not know: one labelled as this installation's.
    gone = f"{family}-gone"
    families.append(gone)
    installation = Settings(data_dir=lifecycle.data_dir).installation_id()
    labels = {
        "racetrack/resource": "job",
        "racetrack/role": "job",
        "racetrack/job-name": gone,
        "racetrack/job-version": "1.0.0",
        "racetrack/replica": "0",
    }
    client = docker.from_env()
    started = {
        owner: client.containers.run(
            Settings().base_image_python,
            ["sleep", "600"],
            name=f"{gone}-{owner}",
            labels={**labels, "racetrack/installation": owner},
            network_mode="none",
            detach=True,
        )
        for owner in (installation, "another-installation")
    }
    ours, theirs = started[installation], started["another-installation"]
    _until("the orphan is removed", lambda: not client.containers.list(all=True, filters={"id": ours.id}))
    assert [e["properties"]["container"] for e in _events(lifecycle, "orphan_container_removed")] == [
        ours.name
    ]
    found = {
        e["properties"]["container"]: e["properties"] for e in _events(lifecycle, "orphan_container_found")
    }
    assert found[theirs.name]["ours"] is False
    theirs.reload()
    assert theirs.status == "running"  # another installation's container is left alone
