"""`deploy --no-cache` reaches the image build: the same source deployed again is built from scratch.

Without the flag, deploying an unchanged source again changes nothing (the image is found by tag and
context digest); with it, every RUN step of the build runs again (none is taken from the build cache)
and the job runs the new image.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import docker
import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.conftest import SAMPLE
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine


def _deploy(lifecycle: LifecycleProcess, folder: Path, manifest: dict, **body: object) -> dict:
    started = lifecycle.request(
        "POST",
        "/deploy",
        json={"manifest": manifest, "build_context": pack_directory(folder), "force": True, **body},
    )
    assert started.status_code == 202, started.text
    deployed = lifecycle.wait_deployment(started.json()["id"])
    assert deployed["status"] == "done", deployed["error"]
    return deployed


def _running_image(family: str) -> str:
    (container,) = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
    return container.image.id


def test_no_cache_rebuilds_every_layer(lifecycle: LifecycleProcess, family: str, tmp_path: Path) -> None:
    folder = tmp_path / "adder"
    shutil.copytree(SAMPLE, folder)
    manifest = {**yaml.safe_load((SAMPLE / "job.yaml").read_text()), "name": family}
    version = manifest["version"]

    _deploy(lifecycle, folder, manifest)
    first_image = _running_image(family)

    again = _deploy(lifecycle, folder, manifest)
    assert "nothing changed" in (again["warnings"] or "")
    assert _running_image(family) == first_image

    rebuilt = _deploy(lifecycle, folder, manifest, build_flags=["--no-cache"])
    assert "nothing changed" not in (rebuilt["warnings"] or "")
    log = lifecycle.request("GET", f"/job/{family}/{version}/build-logs/plain", params={"tail": 0}).text
    run_steps = set(re.findall(r"^#(\d+) \[[^\]]*\] RUN ", log, re.MULTILINE))
    cached = set(re.findall(r"^#(\d+) CACHED$", log, re.MULTILINE))
    assert len(run_steps) >= 3, log[-3000:]  # the venv, the wrapper's requirements, the checks ...
    assert not run_steps & cached, log[-3000:]  # ... each ran again
    assert _running_image(family) != first_image

    job = lifecycle.request("GET", f"/job/{family}/{version}").json()
    assert job["status"] == "running"
