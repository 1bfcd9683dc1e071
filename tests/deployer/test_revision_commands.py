"""`racetrack refresh`, `racetrack reconcile` and `racetrack history --diff` against a real lifecycle, with
the sample deployed on Docker: a container removed by hand shows as drift, a reconcile brings it back, and
the diff of two revisions shows the changed setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import httpx
import pytest

from tests.deployer.conftest import deploy_sample
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, lifecycle: LifecycleProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACK_")}
    env.update(HOME=str(tmp_path / "home"), RACETRACK_CONFIG_DIR=str(tmp_path / "racetrack"))
    return subprocess.run(
        [sys.executable, "-m", "client", *args, "--remote", lifecycle.url],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )


def _containers(family: str) -> list:
    client = docker.from_env()
    return client.containers.list(filters={"label": [f"racetrack/job-name={family}", "racetrack/role=job"]})


def test_refresh_reconcile_and_history_diff(lifecycle: LifecycleProcess, family: str, tmp_path: Path) -> None:
    deploy_sample(lifecycle, tmp_path / "job", family, runtime_env={"GREETING": "hello"})
    assert _cli(tmp_path, lifecycle, "login", lifecycle.token or "").returncode == 0

    clean = _cli(tmp_path, lifecycle, "refresh", family)
    assert clean.returncode == 0, clean.stderr
    assert f'No drift: job "{family}" runs as its last applied revision describes.' in clean.stdout

    for container in _containers(family):
        container.remove(force=True)  # what an operator's slip does
    drifted = _cli(tmp_path, lifecycle, "refresh", family)
    assert drifted.returncode == 0, drifted.stderr
    assert f'Job "{family}" has drifted from its last applied revision:' in drifted.stdout
    assert f"Bring it back with: racetrack reconcile {family}" in drifted.stdout

    reconciled = _cli(tmp_path, lifecycle, "reconcile", family)
    assert reconciled.returncode == 0, reconciled.stderr
    assert f'Job "{family}" runs as its last applied revision describes again.' in reconciled.stdout
    assert _containers(family), "reconcile brings the removed container back"
    job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    url = f"http://{job['internal_name']}/pub/job/{family}/1.0.0/api/v1/perform"
    assert httpx.post(url, json={"numbers": [40, 2]}, timeout=30).json() == 42

    deploy_sample(lifecycle, tmp_path / "job", family, runtime_env={"GREETING": "welcome"})
    revisions = lifecycle.request("GET", f"/job_family/{family}/revisions").json()
    newest, before = revisions[0]["number"], revisions[1]["number"]
    diff = _cli(tmp_path, lifecycle, "history", family, "--diff", str(before), str(newest))
    assert diff.returncode == 0, diff.stderr
    lines = diff.stdout.splitlines()
    assert lines[:2] == [f"--- revision {before}", f"+++ revision {newest}"]
    assert any(line.startswith("-") and "GREETING: hello" in line for line in lines), diff.stdout
    assert any(line.startswith("+") and "GREETING: welcome" in line for line in lines), diff.stdout

    missing = _cli(tmp_path, lifecycle, "history", family, "--diff", "1", "99")
    assert missing.returncode == 1
    assert "revision 99 of job family" in missing.stderr and "was not found" in missing.stderr
