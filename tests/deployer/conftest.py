"""Fixtures of the deployer tests that run a real lifecycle with its deploy engine."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess, remove_job_families

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LifecycleProcess]:
    """The lifecycle as `python -m api.lifecycle` runs it; image builds trust the host's CA bundle."""
    extra = {}
    if HOST_CA_BUNDLE.is_file() and "RACETRACK_EXTRA_CA_BUNDLE" not in os.environ:
        extra["RACETRACK_EXTRA_CA_BUNDLE"] = str(HOST_CA_BUNDLE)  # builds behind an intercepting proxy
    server = LifecycleProcess(tmp_path / "data", extra_env=extra).start()
    yield server
    server.stop()


@pytest.fixture
def sample_family() -> Iterator[str]:
    name = f"sample-{uuid.uuid4().hex[:6]}"
    yield name
    remove_job_families([name])


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
