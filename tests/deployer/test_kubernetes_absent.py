"""A job for the Kubernetes target when no cluster runs here and none is configured: the deploy fails
at once, saying how to get one, and nothing is left half-made."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"


def test_a_kubernetes_job_without_a_cluster_is_refused_saying_make_cluster(tmp_path: Path) -> None:
    lifecycle = LifecycleProcess(tmp_path / "data").start()
    try:
        manifest = {
            **yaml.safe_load((SAMPLE / "job.yaml").read_text()),
            "name": "k8s-nowhere",
            "infrastructure_target": "kubernetes",
        }
        started = lifecycle.request(
            "POST", "/deploy", json={"manifest": manifest, "build_context": pack_directory(SAMPLE)}
        )
        assert started.status_code == 202, started.text
        done = lifecycle.wait_deployment(started.json()["id"], timeout=300)
        assert done["status"] == "failed"
        assert "no Kubernetes cluster is running here" in done["error"]
        assert "make cluster" in done["error"] and "kubernetes_settings.kubeconfig" in done["error"]
        jobs = lifecycle.request("GET", "/job").json()
        assert all(job["name"] != "k8s-nowhere" or job["status"] != "running" for job in jobs)
    finally:
        lifecycle.stop()
