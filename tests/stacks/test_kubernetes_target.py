"""The Kubernetes target without a cluster: which cluster it picks, and how it reads pods."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from core.errors import Unavailable
from stacks.kubernetes.cluster import find_cluster
from stacks.kubernetes.target import KubernetesTarget, _pod_state
from stacks.target import TargetConfig


def test_with_no_cluster_the_target_says_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"make cluster.*kubernetes_settings.kubeconfig"):
        find_cluster({"cluster_dir": str(tmp_path / "cluster")})


def test_the_local_cluster_is_found_with_no_settings(tmp_path: Path) -> None:
    local = tmp_path / "cluster"
    local.mkdir()
    (local / "kubeconfig").write_text("apiVersion: v1\n")
    (local / "registry").write_text("127.0.0.1:7060\n")
    cluster = find_cluster({"cluster_dir": str(local)})
    assert (cluster.kubeconfig, cluster.registry, cluster.local) == (
        str(local / "kubeconfig"),
        "127.0.0.1:7060",
        True,
    )


def test_another_cluster_is_a_setting(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "prod.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    cluster = find_cluster(
        {
            "cluster_dir": str(tmp_path / "none"),
            "kubeconfig": str(kubeconfig),
            "registry": "https://reg.example/rt/",
        }
    )
    assert (cluster.registry, cluster.local) == ("reg.example/rt", False)
    with pytest.raises(Unavailable, match="registry"):
        find_cluster({"cluster_dir": str(tmp_path / "none"), "kubeconfig": str(kubeconfig)})


def test_a_deploy_with_no_cluster_is_refused_before_anything_runs(tmp_path: Path) -> None:
    target = KubernetesTarget(
        TargetConfig(pub_url="http://127.0.0.1:7005/pub", options={"cluster_dir": str(tmp_path)})
    )
    with pytest.raises(Unavailable, match="make cluster"):
        target.stack_settings(build_log_path=None)


def _pod(phase: str, ready: bool, waiting: str | None = None) -> client.V1Pod:
    state = client.V1ContainerState(
        waiting=client.V1ContainerStateWaiting(reason=waiting) if waiting else None
    )
    statuses = [
        client.V1ContainerStatus(name=name, ready=ready, image="i", image_id="", restart_count=0, state=state)
        for name in ("job", "auth")
    ]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="job-adder-v-1-0-0-abc", creation_timestamp=datetime.now(UTC)),
        status=client.V1PodStatus(phase=phase, container_statuses=statuses),
    )


def test_a_pod_runs_when_all_its_containers_are_ready() -> None:
    assert _pod_state(_pod("Running", True)) == ("running", "")
    assert _pod_state(_pod("Running", False)) == ("starting", "not ready: job, auth")
    assert _pod_state(_pod("Pending", False, waiting="ImagePullBackOff")) == (
        "waiting",
        "job: ImagePullBackOff",
    )
