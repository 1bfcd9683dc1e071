"""The infrastructure targets as configured by the platform's settings (see stacks/target.py)."""

from __future__ import annotations

import threading
from typing import Any

from api.settings import Settings
from core.errors import PlatformError
from stacks.target import InfrastructureTarget, TargetConfig, canonical_target_name, open_target

__all__ = [
    "Targets",
    "cluster_host_address",
    "job_public_url",
    "kubernetes_platform_options",
    "target_options",
]


def target_options(settings: Settings, name: str) -> dict[str, Any]:
    """A target's own settings: the built-in targets have settings of their own names."""
    if name == "docker":
        return {
            "network": settings.docker_network,
            "ready_timeout": settings.job_ready_timeout,
            "memory_max": settings.job_memory_max,
            "cpu_max": settings.job_cpu_max,
            "pids_limit": settings.job_pids_limit,
            "drain_seconds": settings.effective_job_drain_seconds,
            "installation": settings.installation_id(),
        }
    if name == "kubernetes":
        return {**kubernetes_platform_options(settings), **settings.kubernetes_settings}
    return dict(settings.infrastructure_target_settings.get(name) or {})


def kubernetes_platform_options(settings: Settings) -> dict[str, Any]:
    """What the Kubernetes target learns from the platform: where `make cluster` leaves the local
    cluster, the token sidecars show the lifecycle, pub's gateway binary (the sidecar's image) and the
    lifecycle's port (which pods on the local cluster call)."""
    from api.lifecycle.deps import expected_internal_token
    from api.pub._launcher import BinaryNotFound, find_binary

    try:
        binary: str | None = find_binary()
    except BinaryNotFound:
        binary = None
    return {
        "cluster_dir": str(settings.cluster_dir),
        "state_dir": str(settings.data_dir / "kubernetes"),
        "sidecar_binary": binary,
        "internal_token": expected_internal_token(settings),
        "lifecycle_port": settings.lifecycle_port,
    }


def cluster_host_address(settings: Settings) -> str | None:
    """This host's address on the local cluster's pod network, where pods call the lifecycle and pub:
    None when `make cluster` runs no cluster here."""
    from stacks.kubernetes.cluster import local_host_address

    return local_host_address(str(settings.cluster_dir))


def job_public_url(settings: Settings, name: str, version: str, target: str | None) -> str:
    """Where users call a job, as its target says (the path on pub when the target is not installed)."""
    try:
        return Targets(settings).get(target).public_url(name, version)
    except PlatformError:
        return f"{settings.effective_pub_url}/job/{name}/{version}"


class Targets:
    """Opens each target once, by its name or an alias; unknown names are refused naming the known."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._open: dict[str, InfrastructureTarget] = {}
        self._guard = threading.Lock()

    def get(self, name: str | None) -> InfrastructureTarget:
        key = canonical_target_name(name or self._settings.default_infrastructure_target)
        with self._guard:
            if key not in self._open:
                settings = self._settings
                config = TargetConfig(
                    pub_url=settings.effective_pub_url,
                    pub_port=settings.pub_port,
                    job_pub_url=settings.job_pub_url,
                    build=settings.build_settings(),
                    options=target_options(settings, key),
                )
                self._open[key] = open_target(key, config)
            return self._open[key]

    def watched(self) -> list[InfrastructureTarget]:
        """The targets whose events the monitor follows: the default one, and Kubernetes when a cluster
        is configured or `make cluster` runs one here."""
        names = [self._settings.default_infrastructure_target]
        if (
            self._settings.kubernetes_settings.get("kubeconfig")
            or (self._settings.cluster_dir / "kubeconfig").is_file()
        ):
            names.append("kubernetes")
        return [self.get(name) for name in dict.fromkeys(canonical_target_name(n) for n in names)]
