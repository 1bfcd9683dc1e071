"""The platform's parts as `make run` starts them, and job families that tests leave nothing of."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from api.run import _docker_bridge_gateway
from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess, remove_job_families
from tests.pub.servers import PubProcess

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"


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


def deploy_sample(
    lifecycle: LifecycleProcess, folder: Path, family: str, *, code: str | None = None, **fields: object
) -> dict:
    """Deploys the python-class sample as `family` (with `code` as adder.py, `fields` in the manifest)."""
    if not folder.exists():
        shutil.copytree(SAMPLE, folder)
    if code is not None:
        (folder / "adder.py").write_text(code)
    manifest = yaml.safe_load((SAMPLE / "job.yaml").read_text())
    manifest.update(name=family, **fields)
    started = lifecycle.request(
        "POST",
        "/deploy",
        json={"manifest": manifest, "build_context": pack_directory(folder), "force": True},
    )
    assert started.status_code == 202, started.text
    deployed = lifecycle.wait_deployment(started.json()["id"])
    assert deployed["status"] == "done", deployed["error"]
    return deployed
