"""Zero downtime: while calls go through pub one after another (several callers, no pause), a redeploy,
a rollback and replica changes of the job lose no call. Real lifecycle (deploy engine, Pulumi, Docker)
and pub's gateway; each operation replaces or removes the job's containers while they serve."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.probe import deploy_probe, probe_manifest
from tests.deployer.test_recovery import Traffic
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine

CALLS_PER_OPERATION = 2000


def _measured(lifecycle: LifecycleProcess, traffic: Traffic, what: str, method: str, path: str, body: dict):
    """Runs one operation under the traffic; answers (calls during it, failed calls, seconds)."""
    started = time.monotonic()
    response = lifecycle.request(method, path, json=body)
    assert response.status_code == 202, response.text
    deployment = lifecycle.wait_deployment(response.json()["id"])
    ended = time.monotonic()
    assert deployment["status"] == "done", deployment["error"]
    calls = traffic.between(started, ended)
    failed = calls.count(False)
    print(f"{what}: {len(calls)} calls in {ended - started:.1f} s, {failed} failed")
    return len(calls), failed, ended - started


def test_redeploy_rollback_and_replica_changes_lose_no_call(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    manifest = probe_manifest(family)
    deploy_probe(lifecycle, tmp_path, manifest)
    source = next(tmp_path.glob("probe-*"))
    folder = tmp_path / "again"
    shutil.copytree(source, folder)

    def deploy(**fields: object) -> tuple[str, str, dict]:
        body = {"manifest": {**manifest, **fields}, "build_context": pack_directory(folder), "force": True}
        return "POST", "/deploy", body

    url = f"{pub.url}/pub/job/{family}/1.0.0/api/v1/perform"
    figures = {}
    with Traffic(url, lifecycle.token or "", callers=4, pause=0) as traffic:
        traffic.succeeds_after(time.monotonic())
        # A new revision of the same code: every container is replaced.
        figures["redeploy"] = _measured(lifecycle, traffic, "redeploy", *deploy(runtime_env={"STEP": "2"}))
        figures["rollback"] = _measured(
            lifecycle, traffic, "rollback", "POST", f"/job_family/{family}/rollback", {"to_revision": 1}
        )
        figures["replicas 1 -> 3"] = _measured(lifecycle, traffic, "replicas 1 -> 3", *deploy(replicas=3))
        figures["replicas 3 -> 1"] = _measured(lifecycle, traffic, "replicas 3 -> 1", *deploy(replicas=1))
    for what, (calls, failed, _) in figures.items():
        assert failed == 0, f"{what}: {failed} of {calls} calls failed: {sorted(set(traffic.errors))[:5]}"
        assert calls >= CALLS_PER_OPERATION, f"{what}: only {calls} calls while it ran"
