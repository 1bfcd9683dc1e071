"""The platform's parts as `make run` starts them, and job families that tests leave nothing of."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.run import _docker_bridge_gateway
from tests.deployer.lifecycle_process import LifecycleProcess, remove_job_families
from tests.pub.servers import PubProcess


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[LifecycleProcess]:
    server = LifecycleProcess(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
def pub(lifecycle: LifecycleProcess) -> Iterator[PubProcess]:
    """Pub as `make run` starts it: the same data dir (internal token) and the lifecycle's port, on
    loopback and on the Docker bridge's gateway (where jobs call it)."""
    env = {key: value for key, value in lifecycle.env.items() if key.startswith("RACETRACK_")}
    gateway = _docker_bridge_gateway()
    server = PubProcess(env, args=("--host", "127.0.0.1", "--host", gateway) if gateway else ())
    yield server
    server.stop()


@pytest.fixture
def family() -> Iterator[str]:
    """A job family name of its own; what its deploys leave on the Docker engine is removed after."""
    name = f"job-{uuid.uuid4().hex[:6]}"
    yield name
    remove_job_families([name])


@pytest.fixture
def families() -> Iterator[list[str]]:
    """Names a test adds families under; removed after as `family` is."""
    names: list[str] = []
    yield names
    remove_job_families(names)
