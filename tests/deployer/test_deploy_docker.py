"""The whole deploy path for real: lifecycle API -> job type build -> Pulumi stack on Docker.

Deploy the adder sample, preview a change, deploy it, roll back to the first revision without a
rebuild, delete it and find nothing left; a change whose job crashes at start never interrupts the
version that was serving; killing the lifecycle mid-deploy leaves registry, stack and service
consistent after a restart.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"


def _job_dir(
    tmp_path: Path, family: str, *, offset: int = 0, init_error: bool = False, env: dict | None = None
) -> tuple[Path, dict]:
    folder = tmp_path / f"job-{uuid.uuid4().hex[:6]}"
    shutil.copytree(SAMPLE, folder)
    code = (folder / "adder.py").read_text()
    code = code.replace("return sum(numbers)", f"return sum(numbers) + {offset}")
    if init_error:
        code = code.replace(
            "class AdderModel:",
            "class AdderModel:\n    def __init__(self):\n"
            "        raise RuntimeError('model file is missing')\n",
        )
    (folder / "adder.py").write_text(code)
    manifest = yaml.safe_load((folder / "job.yaml").read_text())
    manifest["name"] = family
    manifest["runtime_env"] = env or {}
    return folder, manifest


def _deploy(
    lifecycle: LifecycleProcess, folder: Path, manifest: dict, *, force: bool = False, preview: bool = False
) -> dict:
    path = "/deploy/preview" if preview else "/deploy"
    response = lifecycle.request(
        "POST", path, json={"manifest": manifest, "build_context": pack_directory(folder), "force": force}
    )
    assert response.status_code == 202, response.text
    return lifecycle.wait_deployment(response.json()["id"])


def _perform(lifecycle: LifecycleProcess, family: str, version: str = "1.0.0") -> float:
    job = lifecycle.request("GET", f"/job/{family}/{version}").json()
    assert job["status"] == "running", job
    url = f"http://{job['internal_name']}/pub/job/{family}/{version}/api/v1/perform"
    return httpx.post(url, json={"numbers": [40, 2]}, timeout=10).json()


def test_deploy_preview_change_rollback_delete(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    folder, manifest = _job_dir(tmp_path, family)
    first = _deploy(lifecycle, folder, manifest)
    assert first["status"] == "done", first["error"]
    assert _perform(lifecycle, family) == 42

    changed_folder, changed = _job_dir(tmp_path, family, offset=100, env={"GREETING": "hello"})
    preview = _deploy(lifecycle, changed_folder, changed, force=True, preview=True)
    assert preview["status"] == "done", preview["error"]
    steps = {step["name"]: step for step in preview["preview"]["steps"]}
    name = f"job-{family}-v-1-0-0"
    assert {n: s["op"] for n, s in steps.items()} == {f"{name}-job-image": "replace", name: "replace"}
    assert set(steps[f"{name}-job-image"]["diffs"]) == {"context_digest", "tag"}
    assert set(steps[name]["diffs"]) == {"env", "image", "image_id", "labels"}
    assert steps[name]["changes"]["env"]["new"]["GREETING"] == "hello"
    assert _perform(lifecycle, family) == 42, "a preview changes nothing"

    second = _deploy(lifecycle, changed_folder, changed, force=True)
    assert second["status"] == "done", second["error"]
    assert _perform(lifecycle, family) == 142

    history = lifecycle.request("GET", f"/job_family/{family}/revisions").json()
    assert [(r["number"], r["status"]) for r in history] == [(2, "applied"), (1, "applied")]
    updates = lifecycle.request("GET", f"/job_family/{family}/stack-updates").json()
    assert [(u["kind"], u["result"]) for u in updates][:2] == [
        ("update", "succeeded"),
        ("update", "succeeded"),
    ]

    started = time.monotonic()
    rollback = lifecycle.request("POST", f"/job_family/{family}/rollback", json={"to_revision": 1})
    assert rollback.status_code == 202, rollback.text
    rolled = lifecycle.wait_deployment(rollback.json()["id"])
    assert rolled["status"] == "done", rolled["error"]
    assert _perform(lifecycle, family) == 42
    assert "building image" not in (rolled.get("build_logs") or ""), "a rollback reuses the image"
    assert time.monotonic() - started < 120

    deleted = lifecycle.request("DELETE", f"/job/{family}/1.0.0")
    assert deleted.status_code in (200, 202), deleted.text
    body = deleted.json()
    if body.get("id") and body.get("status") == "in_progress":
        assert lifecycle.wait_deployment(body["id"])["status"] == "done"
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}) == []
    assert lifecycle.request("GET", f"/job/{family}/1.0.0").status_code == 404


def test_a_job_crashing_at_start_never_interrupts_the_serving_version(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    folder, manifest = _job_dir(tmp_path, family)
    assert _deploy(lifecycle, folder, manifest)["status"] == "done"
    broken_folder, broken = _job_dir(tmp_path, family, offset=1, init_error=True)
    failed = _deploy(lifecycle, broken_folder, broken, force=True)
    assert failed["status"] == "failed"
    assert "model file is missing" in failed["error"]
    assert _perform(lifecycle, family) == 42
    history = lifecycle.request("GET", f"/job_family/{family}/revisions").json()
    assert [(r["number"], r["status"]) for r in history] == [(2, "failed"), (1, "applied")]


def test_killing_the_lifecycle_mid_deploy_keeps_the_old_version_serving(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    folder, manifest = _job_dir(tmp_path, family)
    assert _deploy(lifecycle, folder, manifest)["status"] == "done"
    changed_folder, changed = _job_dir(tmp_path, family, offset=7)
    response = lifecycle.request(
        "POST",
        "/deploy",
        json={"manifest": changed, "build_context": pack_directory(changed_folder), "force": True},
    )
    deployment_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while (
        lifecycle.request("GET", f"/deploy/{deployment_id}").json()["phase"]
        != "building image and creating resources"
    ):
        assert time.monotonic() < deadline, "the deploy never reached its Pulumi phase"
        time.sleep(0.2)
    lifecycle.kill()

    restarted = LifecycleProcess(lifecycle.data_dir, port=lifecycle.port).start()
    try:
        interrupted = restarted.wait_deployment(deployment_id, timeout=60)
        assert interrupted["status"] == "failed" and "interrupted" in interrupted["error"]
        deadline = time.monotonic() + 300
        while True:  # recovery re-applies the last revision in the background
            job = restarted.request("GET", f"/job/{family}/1.0.0").json()
            if job.get("status") == "running":
                try:
                    if _perform(restarted, family) == 42:
                        break
                except httpx.TransportError:
                    pass
            assert time.monotonic() < deadline, f"the old version did not come back: {job}"
            time.sleep(1)
        again = _deploy(restarted, changed_folder, changed, force=True)
        assert again["status"] == "done", again["error"]
        assert _perform(restarted, family) == 49
    finally:
        restarted.stop()


def test_drift_is_reported_and_a_reconcile_brings_the_job_back(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    folder, manifest = _job_dir(tmp_path, family)
    assert _deploy(lifecycle, folder, manifest)["status"] == "done"
    client = docker.from_env()
    (container,) = client.containers.list(
        filters={"label": [f"racetrack/job-name={family}", "racetrack/role=job"]}
    )
    container.remove(force=True)  # someone removes it by hand

    refresh = lifecycle.request("POST", f"/job_family/{family}/refresh")
    assert refresh.status_code == 202, refresh.text
    report = lifecycle.wait_deployment(refresh.json()["id"])
    assert report["status"] == "done", report["error"]
    drifted = {step["name"]: step["op"] for step in report["preview"]["steps"]}
    assert drifted == {f"job-{family}-v-1-0-0": "delete"}, report["preview"]

    reconcile = lifecycle.request("POST", f"/job/{family}/1.0.0/reprovision")
    assert reconcile.status_code == 202, reconcile.text
    assert lifecycle.wait_deployment(reconcile.json()["id"])["status"] == "done"
    assert _perform(lifecycle, family) == 42
