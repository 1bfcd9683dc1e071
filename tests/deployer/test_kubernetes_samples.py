"""Every sample job, as the deploy engine would declare it on Kubernetes, renders to valid manifests.

Build plans come from the real job types (no image is built); the stack runs for real in
render-to-YAML mode, and every object is checked against the Kubernetes schema.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from api.deployer.desired import images_from_plan, version_from_plan, with_version
from api.settings import Settings
from jobtypes.build import plan_build
from jobtypes.manifest import job_manifest
from jobtypes.runtime import job_runtime_env
from jobtypes.source import SourceInfo
from stacks.engine import EngineConfig
from stacks.runner import StackRunner
from stacks.spec import FamilySpec

pytestmark = pytest.mark.engine

SAMPLES = sorted(
    p for p in (Path(__file__).resolve().parents[2] / "sample").iterdir() if (p / "job.yaml").exists()
)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_renders_valid_kubernetes_objects(sample: Path, tmp_path: Path, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    manifest = yaml.safe_load((sample / "job.yaml").read_text())
    workspace = tmp_path / "ws"
    shutil.copytree(sample, workspace / "src")
    plan = plan_build(
        manifest,
        SourceInfo(workspace=workspace, context_dir=workspace / "src"),
        build_id="render",
        settings=settings.build_settings(),
    )
    env = job_runtime_env(
        manifest, pub_url="http://pub:7005/pub", auth_token="", job_type_env=plan.runtime_env
    )
    env.pop("AUTH_TOKEN")
    version = version_from_plan(
        job_manifest(manifest),
        images_from_plan(plan, str(manifest["version"])),
        env=env,
        secret_env={"AUTH_TOKEN": "token-of-the-family"},
        timestamp=1700000000,
    )
    out = tmp_path / "rendered"
    spec = with_version(
        FamilySpec(
            family=manifest["name"],
            target="kubernetes",
            revision=1,
            versions=(),
            target_settings={"render_dir": str(out), "registry": "registry.local:5000"},
        ),
        version,
    )
    runner = StackRunner(EngineConfig.from_settings(settings), max_parallel=1)
    try:
        result = runner.run("up", spec)
        assert result.ok, result.details
    finally:
        runner.shutdown()
    documents = [doc for path in sorted(out.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
    kinds = sorted(doc["kind"] for doc in documents)
    assert kinds == ["Deployment", "Ingress", "NetworkPolicy", "Secret", "Service"]
    for document in documents:
        kubernetes_validate.validate(document, "1.33.0", strict=True)
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers][-1] == "auth"
    assert len(containers) == len(plan.images) + 1
