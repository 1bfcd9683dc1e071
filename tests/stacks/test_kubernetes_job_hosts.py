"""On Kubernetes each job family's pages answer on a host of its own (<family>.<jobs domain>), served
by the version's auth sidecar, which needs to know that domain (docs/security.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from stacks.engine import EngineConfig
from stacks.runner import StackRunner
from tests.stacks.test_kubernetes_program import K8S_VERSION, _by, _family

pytestmark = pytest.mark.engine

JOB_HOSTS = {
    "jobs_url": "https://jobs.racetrack.example.com",
    "dashboard_url": "https://racetrack.example.com/dashboard",
}


def test_the_family_ingress_has_its_own_host_and_the_sidecar_serves_it(
    engine_config: EngineConfig, tmp_path: Path
) -> None:
    base = _family(tmp_path / "out")
    spec = dataclasses.replace(base, target_settings={**base.target_settings, **JOB_HOSTS})
    runner = StackRunner(engine_config, max_parallel=1)
    try:
        result = runner.run("up", spec)
        assert result.ok, result.details
        documents = [
            doc
            for path in sorted((tmp_path / "out").rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
        ]
        runner.run("destroy", spec)
    finally:
        runner.shutdown()
    for doc in documents:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    rules = _by(documents, "Ingress")["job-adder"]["spec"]["rules"]
    assert "host" not in rules[0]  # the path form, for API callers, on any host
    assert rules[1]["host"] == "adder.jobs.racetrack.example.com"
    paths = {p["path"]: p["backend"]["service"]["name"] for p in rules[1]["http"]["paths"]}
    assert paths["/"] == "job-adder-v-0-0-2"  # the ticket exchange and "/" go to the latest version
    assert paths["/pub/job/adder/0.0.1/"] == "job-adder-v-0-0-1"
    auth = next(
        c
        for c in _by(documents, "Deployment")["job-adder-v-0-0-1"]["spec"]["template"]["spec"]["containers"]
        if c["name"] == "auth"
    )
    env = {e["name"]: e.get("value") for e in auth["env"]}
    assert env["RACETRACK_PUB_JOBS_URL"] == "https://jobs.racetrack.example.com"
    assert env["RACETRACK_PUB_SECURE_COOKIE"] == "true"
    assert env["RACETRACK_PUB_DASHBOARD_URL"] == "https://racetrack.example.com/dashboard"
