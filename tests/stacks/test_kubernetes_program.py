"""The Kubernetes program, rendered to YAML without a cluster and checked against the Kubernetes schema."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from stacks.engine import EngineConfig
from stacks.runner import StackRunner
from stacks.spec import ContainerSpec, FamilySpec, ImageSpec, VersionSpec

pytestmark = pytest.mark.engine

K8S_VERSION = "1.33.0"


def _family(render_dir: Path) -> FamilySpec:
    plain = VersionSpec(
        version="0.0.1",
        images=(
            ImageSpec(role="job", tag="racetrack/job-entrypoint/adder:0.0.1-aaaa", context_digest="aaaa"),
        ),
        run=ContainerSpec(
            env={"JOB_NAME": "adder"},
            secret_env={"API_KEY": "k3y"},
            replicas=2,
            memory_max="512Mi",
            cpu_max="500m",
        ),
        deployment_timestamp=1700000000,
    )
    proxied = VersionSpec(
        version="0.0.2",
        images=(
            ImageSpec(role="job", tag="racetrack/job-entrypoint/adder:0.0.2-bbbb", context_digest="bbbb"),
            ImageSpec(
                role="user-module",
                tag="racetrack/job-user/adder:0.0.2-cccc",
                context_digest="cccc",
                port=7004,
            ),
        ),
        run=ContainerSpec(env={"JOB_NAME": "adder"}),
        deployment_timestamp=1700000100,
    )
    return FamilySpec(
        family="adder",
        target="kubernetes",
        revision=3,
        versions=(plain, proxied),
        latest="0.0.2",
        target_settings={"render_dir": str(render_dir), "registry": "registry.example.com:5000"},
    )


@pytest.fixture
def rendered(engine_config: EngineConfig, tmp_path: Path) -> list[dict]:
    runner = StackRunner(engine_config, max_parallel=1)
    spec = _family(tmp_path / "out")
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
    return documents


def _by(documents: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict]) -> None:
    assert rendered
    for document in rendered:
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_only_the_auth_sidecar_exposes_a_port(rendered: list[dict]) -> None:
    deployments = _by(rendered, "Deployment")
    assert set(deployments) == {"job-adder-v-0-0-1", "job-adder-v-0-0-2"}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        exposed = {c["name"]: c.get("ports") for c in pod["containers"] if c.get("ports")}
        assert list(exposed) == ["auth"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        job = next(c for c in pod["containers"] if c["name"] == "job")
        assert job["livenessProbe"]["httpGet"]["path"] == "/live"
        assert job["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert job["image"].startswith("registry.example.com:5000/racetrack/job-entrypoint/adder:")
    first = deployments["job-adder-v-0-0-1"]
    assert first["spec"]["replicas"] == 2
    job = next(c for c in first["spec"]["template"]["spec"]["containers"] if c["name"] == "job")
    assert job["resources"]["limits"] == {"memory": "512Mi", "cpu": "500m"}
    secret_ref = next(e for e in job["env"] if e["name"] == "API_KEY")
    assert secret_ref["valueFrom"]["secretKeyRef"] == {"name": "job-adder-v-0-0-1-secrets", "key": "API_KEY"}
    second = deployments["job-adder-v-0-0-2"]
    assert [c["name"] for c in second["spec"]["template"]["spec"]["containers"]] == [
        "job",
        "user-module",
        "auth",
    ]


def test_ingress_routes_each_version_and_latest_to_its_sidecar(rendered: list[dict]) -> None:
    ingress = _by(rendered, "Ingress")["job-adder"]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {
        "/pub/job/adder/0.0.1/": "job-adder-v-0-0-1",
        "/pub/job/adder/0.0.2/": "job-adder-v-0-0-2",
        "/pub/job/adder/latest/": "job-adder-v-0-0-2",
    }
    services = _by(rendered, "Service")
    assert services["job-adder-v-0-0-1"]["spec"]["ports"] == [
        {"name": "auth", "port": 80, "targetPort": "auth"}
    ]
