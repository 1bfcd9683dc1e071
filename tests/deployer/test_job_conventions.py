"""Upstream's job-class conventions through the whole platform: the real lifecycle deploys sample jobs
on Docker (build, Pulumi stack, ready check) and the real pub serves them under its prefix.

- A webview-only Flask job routes `base_url + '/postme'` and answers at
  `/pub/job/<name>/<version>/api/v1/webview/postme`, with its static files, through pub.
- A job reading `self.request_context` sees the caller pub names in X-Caller-Name.
- A job whose `__init__` raises ends its deploy with its own error as soon as it fails, not after the
  readiness timeout.
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
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine

SAMPLES = Path(__file__).resolve().parents[2] / "sample"


def _sample(tmp_path: Path, sample: str, families: list[str]) -> tuple[Path, dict]:
    folder = tmp_path / f"{sample}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(SAMPLES / sample, folder)
    manifest = yaml.safe_load((folder / "job.yaml").read_text())
    manifest["name"] = f"{manifest['name']}-{uuid.uuid4().hex[:6]}"
    families.append(manifest["name"])
    return folder, manifest


def _start_deploy(lifecycle: LifecycleProcess, folder: Path, manifest: dict) -> str:
    response = lifecycle.request(
        "POST", "/deploy", json={"manifest": manifest, "build_context": pack_directory(folder)}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_webview_and_request_context_through_pub(
    lifecycle: LifecycleProcess, pub: PubProcess, families: list[str], tmp_path: Path
) -> None:
    webview, webview_manifest = _sample(tmp_path, "python-webview", families)
    caller, caller_manifest = _sample(tmp_path, "python-request-context", families)
    for folder, manifest in ((webview, webview_manifest), (caller, caller_manifest)):
        deployment = lifecycle.wait_deployment(_start_deploy(lifecycle, folder, manifest))
        assert deployment["status"] == "done", deployment["error"]

    auth = {"X-Racetrack-Auth": lifecycle.token or ""}
    with httpx.Client(base_url=pub.url, headers=auth, timeout=30, trust_env=False) as client:
        name = webview_manifest["name"]
        base_url = f"/pub/job/{name}/1.0.0/api/v1/webview"
        page = client.get(base_url + "/")
        assert page.status_code == 200, page.text
        assert f'href="{base_url}/static/style.css"' in page.text
        assert f'fetch("{base_url}/postme"' in page.text
        for version in ("1.0.0", "latest"):
            posted = client.post(f"/pub/job/{name}/{version}/api/v1/webview/postme", json={"name": "Ada"})
            assert posted.status_code == 200, posted.text
            assert posted.json() == {"hello": {"name": "Ada"}}
        css = client.get(base_url + "/static/style.css")
        assert css.status_code == 200 and "teal" in css.text
        no_perform = client.post(f"/pub/job/{name}/1.0.0/api/v1/perform", json={})
        assert no_perform.status_code == 404 and "has no perform method" in no_perform.json()["error"]
        assert client.get(base_url + "/", headers={"X-Racetrack-Auth": ""}).status_code == 401

        greeting = client.post(f"/pub/job/{caller_manifest['name']}/latest/api/v1/perform", json={})
        assert greeting.status_code == 200, greeting.text
        assert greeting.json() == {"greeting": "Hello, User admin!", "caller": "User admin"}


def test_a_failing_init_ends_the_deploy_with_its_error_not_a_timeout(
    lifecycle: LifecycleProcess, families: list[str], tmp_path: Path
) -> None:
    """The job's __init__ takes 2 s, then raises. The lifecycle runs with the default ready timeout
    (300 s); the deploy must end with the job's error as soon as the failure is known."""
    folder, manifest = _sample(tmp_path, "python-init-error", families)
    deployment_id = _start_deploy(lifecycle, folder, manifest)
    client = docker.from_env()
    first_container_at = None
    deadline = time.monotonic() + 900
    while True:
        body = lifecycle.request("GET", f"/deploy/{deployment_id}").json()
        if body["status"] != "in_progress":
            break
        if first_container_at is None and client.containers.list(
            all=True, filters={"label": f"racetrack/job-name={manifest['name']}"}
        ):
            first_container_at = time.monotonic()
        assert time.monotonic() < deadline, "the deploy did not end"
        time.sleep(0.2)
    ended_at = time.monotonic()

    assert body["status"] == "failed"
    error = body["error"]
    assert "the job failed to initialise: FileNotFoundError: model file model.bin is missing" in error
    assert "did not become ready" not in error
    assert "Traceback" in (error + (body.get("build_logs") or "")), "the job's own log lines are reported"
    assert lifecycle.request("GET", f"/job/{manifest['name']}/1.0.0").status_code == 404
    assert client.containers.list(all=True, filters={"label": f"racetrack/job-name={manifest['name']}"}) == []
    assert first_container_at is not None, "the job's container was never seen"
    print(f"deploy ended {ended_at - first_container_at:.1f} s after the job's container appeared: {error}")
