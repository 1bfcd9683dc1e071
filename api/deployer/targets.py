"""The infrastructure targets as configured by the platform's settings (see stacks/target.py)."""

from __future__ import annotations

import threading
from typing import Any

from api.settings import Settings
from core.errors import PlatformError
from stacks.target import InfrastructureTarget, TargetConfig, canonical_target_name, open_target

__all__ = ["Targets", "target_options", "job_public_url"]


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
        return dict(settings.kubernetes_settings)
    return dict(settings.infrastructure_target_settings.get(name) or {})


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
