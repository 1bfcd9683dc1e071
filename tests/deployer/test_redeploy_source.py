"""A redeploy keeps the job's source kind: a version deployed from an uploaded folder is rebuilt from that
folder (kept by the platform), never fetched from the git repository its manifest names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deployer.conftest import deploy_sample
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine


def test_redeploy_rebuilds_the_uploaded_folder(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    # A repository nobody can reach: a redeploy that went to git would fail.
    git = {"remote": "https://git.invalid/nobody/jobs.git"}
    deployed = deploy_sample(lifecycle, tmp_path / "adder", family, git=git)
    version = deployed["job_version"]

    started = lifecycle.request("POST", f"/job/{family}/{version}/redeploy")
    assert started.status_code == 202, started.text
    redeployed = lifecycle.wait_deployment(started.json()["id"])
    assert redeployed["status"] == "done", redeployed["error"]
    assert "nothing changed" in redeployed["warnings"]  # the same folder, built to the same image
    assert lifecycle.request("GET", f"/job/{family}/{version}").json()["status"] == "running"

    deleted = lifecycle.request("DELETE", f"/job/{family}/{version}")
    assert lifecycle.wait_deployment(deleted.json()["id"])["status"] == "done"
    assert not list((lifecycle.data_dir / "build-contexts" / family).glob("*"))  # its copy goes with it
