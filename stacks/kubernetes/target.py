"""A Kubernetes cluster as an infrastructure target (stacks/kubernetes/program.py declares the objects).

What is not here yet, each refused with a message instead of half-done: pushing job images to the
cluster's registry (only render mode, `render_dir`, which writes the YAML and runs nothing, deploys
today), reading pods' logs, and watching pods from the monitor (the cluster restarts failing pods
itself; `kubectl get pods -l racetrack/job-name=<name>` shows them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from core.errors import Unavailable
from stacks.spec import FamilySpec
from stacks.target import LogFollower, Replica, TargetConfig

__all__ = ["KubernetesTarget"]


class KubernetesTarget:
    name = "kubernetes"
    aliases: tuple[str, ...] = ()  # upstream's Kubernetes plugin uses the same name

    def __init__(self, config: TargetConfig) -> None:
        self.config = config

    @staticmethod
    def program(spec: FamilySpec) -> Callable[[], None]:
        from stacks.kubernetes.program import program

        return program(spec)

    def _settings(self) -> dict[str, Any]:
        from stacks.kubernetes.program import DEFAULTS

        return {**DEFAULTS, **self.config.options}

    def stack_settings(self, *, build_log_path: str | None) -> dict[str, Any]:
        return dict(self.config.options)

    def deliver_images(self, spec: FamilySpec) -> None:
        if self._settings().get("render_dir"):
            return  # rendering writes the objects only: no image is pulled
        raise Unavailable(
            "infrastructure_target kubernetes: building job images and pushing them to the cluster's "
            "registry is not implemented yet; set kubernetes_settings.render_dir to render the objects, "
            "or deploy to the docker target"
        )

    def addresses(self, version_outputs: Mapping[str, Any]) -> list[str]:
        # Pub reaches a version through its Service (the sidecar in front of every pod), not a pod.
        return []

    def job_pub_url(self) -> str:
        return self.config.job_pub_url or str(self._settings()["pub_url"])

    def public_url(self, name: str, version: str) -> str:
        return f"{self.config.pub_url.rstrip('/')}/job/{name}/{version}"

    def runtime_logs(self, name: str, version: str, tail: int) -> str:
        namespace = self._settings()["namespace"]
        raise Unavailable(
            f"runtime logs of Kubernetes jobs are not read by the platform yet: "
            f"kubectl -n {namespace} logs -l racetrack/job-name={name},racetrack/job-version={version} "
            f"--prefix --tail={tail or -1}"
        )

    def follow_logs(self, name: str, version: str, tail: int) -> LogFollower | None:
        return None

    def replicas(self) -> dict[tuple[str, str], list[Replica]] | None:
        return None

    def watch(self, changed: Callable[[], None], stop: threading.Event) -> None:
        """Kubernetes restarts and readdresses pods behind their Service itself: nothing to follow."""
