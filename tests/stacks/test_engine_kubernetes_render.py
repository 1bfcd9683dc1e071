"""The engine renders Kubernetes objects to YAML without a cluster (render-to-directory mode)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from stacks.engine import EngineConfig, open_stack, remove_stack

pytestmark = pytest.mark.engine


def test_deployment_and_service_render_to_yaml(engine_config: EngineConfig, tmp_path: Path) -> None:
    out = tmp_path / "rendered"

    def program() -> None:
        provider = k8s.Provider("render", render_yaml_to_directory=str(out))
        opts = pulumi.ResourceOptions(provider=provider)
        labels = {"app": "hello"}
        k8s.apps.v1.Deployment(
            "hello",
            metadata={"name": "hello", "namespace": "racetrack"},
            spec={
                "replicas": 2,
                "selector": {"match_labels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {"name": "hello", "image": "hello:1", "ports": [{"container_port": 7000}]}
                        ]
                    },
                },
            },
            opts=opts,
        )
        k8s.core.v1.Service(
            "hello",
            metadata={"name": "hello", "namespace": "racetrack"},
            spec={"selector": labels, "ports": [{"port": 80, "target_port": 7000}]},
            opts=opts,
        )

    stack_name = f"render-{uuid.uuid4().hex[:8]}"
    stack = open_stack(
        engine_config, project="engine-test", stack=stack_name, program=program, providers=("kubernetes",)
    )
    try:
        result = stack.up()
        assert result.summary.result == "succeeded"
        documents = {
            doc["kind"]: doc
            for path in sorted((out / "1-manifest").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
        }
        assert set(documents) == {"Deployment", "Service"}
        deployment = documents["Deployment"]
        assert deployment["apiVersion"] == "apps/v1"
        assert deployment["metadata"] == {"name": "hello", "namespace": "racetrack"} | {
            k: v for k, v in deployment["metadata"].items() if k not in ("name", "namespace")
        }
        assert deployment["spec"]["replicas"] == 2
        assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 7000}]
        service = documents["Service"]
        assert service["spec"]["ports"] == [{"port": 80, "targetPort": 7000}]
    finally:
        stack.destroy()
        remove_stack(engine_config, project="engine-test", stack=stack_name)
    assert not list((out / "1-manifest").glob("*.yaml")), "destroy removes the rendered files"
