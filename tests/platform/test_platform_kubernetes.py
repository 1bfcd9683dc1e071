"""The Kubernetes stack renders its manifests without a cluster, and they validate (strict, 1.33)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from .conftest import REPO, PulumiRun

pytestmark = pytest.mark.engine

K8S_VERSION = "1.33.0"


def test_manifests_render_and_validate(pulumi: PulumiRun, tmp_path: Path) -> None:
    name = f"test-{uuid.uuid4().hex[:6]}"
    stack_file = REPO / f"Pulumi.{name}.yaml"
    settings = yaml.safe_load((REPO / "Pulumi.k8s-example.yaml").read_text())
    out = tmp_path / "rendered"
    settings["config"]["racetrack:renderDir"] = str(out)
    stack_file.write_text(yaml.safe_dump(settings))
    try:
        pulumi(REPO, "stack", "init", name)
        pulumi(REPO, "up", "--yes", "--skip-preview", "--stack", name)
        documents = [
            doc for path in sorted(out.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc
        ]
        for document in documents:
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        by_kind: dict[str, dict[str, dict]] = {}
        for document in documents:
            by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document

        assert set(by_kind["Deployment"]) == {"lifecycle", "pub", "dashboard"}
        assert set(by_kind["Service"]) == {"lifecycle", "pub", "dashboard", "postgres"}
        assert set(by_kind["StatefulSet"]) == {"postgres"}
        assert set(by_kind["PersistentVolumeClaim"]) == {"postgres-data", "lifecycle-data"}
        assert set(by_kind["Namespace"]) == {"racetrack", "racetrack-jobs"}
        for deployment in by_kind["Deployment"].values():
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image == "registry.example.com/racetrack/platform:0.1.0"

        paths = {
            p["path"]: p["backend"]["service"]["name"]
            for p in by_kind["Ingress"]["racetrack"]["spec"]["rules"][0]["http"]["paths"]
        }
        assert paths == {"/lifecycle": "lifecycle", "/dashboard": "dashboard", "/pub": "pub"}

        # The lifecycle manages jobs in the jobs namespace only, as its own ServiceAccount.
        role = by_kind["Role"]["racetrack-lifecycle"]
        assert role["metadata"]["namespace"] == "racetrack-jobs"
        binding = by_kind["RoleBinding"]["racetrack-lifecycle"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "racetrack-lifecycle", "namespace": "racetrack"}
        ]
        lifecycle_pod = by_kind["Deployment"]["lifecycle"]["spec"]["template"]["spec"]
        assert lifecycle_pod["serviceAccountName"] == "racetrack-lifecycle"
        assert "serviceAccountName" not in by_kind["Deployment"]["pub"]["spec"]["template"]["spec"]

        # Job pods take traffic on the auth sidecar's port only.
        policy = by_kind["NetworkPolicy"]["racetrack-jobs-only-through-sidecar"]
        assert policy["metadata"]["namespace"] == "racetrack-jobs"
        assert policy["spec"]["podSelector"] == {"matchLabels": {"racetrack/job": "true"}}
        assert policy["spec"]["ingress"] == [{"ports": [{"port": 7005, "protocol": "TCP"}]}]

        # Credentials reach the pods through the Secret, never as literal env values.
        env = {e["name"]: e for e in lifecycle_pod["containers"][0]["env"]}
        assert env["RACETRACK_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "racetrack-secrets"
        assert "value" not in env["RACETRACK_DATABASE_URL"]
        # Job pages get hosts of their own under the jobs domain (docs/security.md).
        assert env["RACETRACK_JOBS_DOMAIN"]["value"] == "jobs.racetrack.example.com"
        job_settings = json.loads(env["RACETRACK_KUBERNETES_SETTINGS"]["value"])
        assert job_settings["jobs_url"] == "https://jobs.racetrack.example.com"
        secret = by_kind["Secret"]["racetrack-secrets"]
        assert set(secret.get("data") or secret.get("stringData")) >= {"admin-password", "database-url"}
        token = by_kind["Secret"]["racetrack-internal-token"]
        assert "token" in (token.get("data") or token.get("stringData"))
    finally:
        pulumi(REPO, "destroy", "--yes", "--skip-preview", "--stack", name, check=False)
        pulumi(REPO, "stack", "rm", "--yes", "--force", name, check=False)
        stack_file.unlink(missing_ok=True)
