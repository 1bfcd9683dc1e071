"""`resources.memory_min` / `cpu_min` are honoured on Docker as reservations (Docker's soft forms of a
Kubernetes request), beside the `memory_max` / `cpu_max` caps."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.deployer.conftest import deploy_sample
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine


def test_minimums_are_reservations(lifecycle: LifecycleProcess, family: str, tmp_path: Path) -> None:
    resources = {"memory_min": "128Mi", "memory_max": "512Mi", "cpu_min": "250m", "cpu_max": "1"}
    deploy_sample(lifecycle, tmp_path / "adder", family, resources=resources)
    (container,) = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
    host = container.attrs["HostConfig"]
    assert host["MemoryReservation"] == 128 * 1024 * 1024
    assert host["Memory"] == 512 * 1024 * 1024
    assert host["CpuShares"] == 256  # a quarter of a CPU against the default weight of 1024 for one
    assert host["NanoCpus"] == 10**9
