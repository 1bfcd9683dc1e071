"""Recorded secrets follow the family's deployers and the recorded source, not the job's name: a new
deploy of a version (with --force, by someone allowed to deploy the family) brings its own secrets or
runs without them; operations that keep the recorded source keep them (real lifecycle, engine, Docker)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

JOB = '''import os


class SecretModel:
    def perform(self) -> str:
        """The secret this version was given, and a mark of its source."""
        return os.environ.get("SECRET_WORD", "") + "|{mark}"
'''


def _user(lifecycle: LifecycleProcess, name: str) -> str:
    password = "a-good-password-1"
    api = f"{lifecycle.url}/api/v1"
    assert (
        httpx.post(f"{api}/users/register", json={"username": name, "password": password}).status_code == 201
    )
    assert lifecycle.request("PATCH", f"/users/{name}", json={"is_active": True}).status_code == 200
    return httpx.post(f"{api}/users/login", json={"username": name, "password": password}).json()["token"]


def _source(tmp_path: Path, mark: str) -> str:
    folder = tmp_path / f"job-{mark}"
    folder.mkdir()
    (folder / "job.py").write_text(JOB.format(mark=mark))
    return pack_directory(folder)


def _manifest(family: str) -> dict:
    return {
        "name": family,
        "owner_email": "owner@example.com",
        "jobtype": "python3:latest",
        "version": "1.0.0",
        "git": {"remote": "https://github.com/example/jobs"},
        "jobtype_extra": {"entrypoint_path": "job.py", "entrypoint_class": "SecretModel"},
    }


def _as(lifecycle: LifecycleProcess, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(
        method, f"{lifecycle.url}/api/v1{path}", headers={"X-Racetrack-Auth": token}, timeout=30, **kwargs
    )


def _done(lifecycle: LifecycleProcess, response: httpx.Response) -> None:
    assert response.status_code == 202, response.text
    result = lifecycle.wait_deployment(response.json()["id"])
    assert result["status"] == "done", result["error"]


def _secret_seen(lifecycle: LifecycleProcess, family: str) -> str:
    job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    url = f"http://{job['internal_name']}/pub/job/{family}/1.0.0/api/v1/perform"
    return httpx.post(url, json={}, timeout=10).json()


def test_a_new_source_never_inherits_the_recorded_secrets(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    alice = _user(lifecycle, "alice@example.com")
    bob = _user(lifecycle, "bob@example.com")
    body = {
        "manifest": _manifest(family),
        "build_context": _source(tmp_path, "alice"),
        "secret_vars": {"runtime_env": {"SECRET_WORD": "alices-secret"}},
    }
    _done(lifecycle, _as(lifecycle, alice, "POST", "/deploy", json=body))
    assert _secret_seen(lifecycle, family) == "alices-secret|alice"

    bobs = {"manifest": _manifest(family), "build_context": _source(tmp_path, "bob"), "force": True}
    refused = _as(lifecycle, bob, "POST", "/deploy", json=bobs)
    assert refused.status_code == 403, "only the family's deployers deploy it"

    # Re-applying the recorded revision keeps what was recorded with it, secrets included.
    _done(lifecycle, _as(lifecycle, alice, "POST", f"/job/{family}/1.0.0/reprovision"))
    assert _secret_seen(lifecycle, family) == "alices-secret|alice"

    grant = {
        "subject_kind": "user",
        "subject_name": "bob@example.com",
        "scope": "deploy_job",
        "job_family": family,
    }
    assert lifecycle.request("POST", "/auth/permissions", json=grant).status_code == 201
    # A granted deployer's new source, without secrets, runs without alice's.
    _done(lifecycle, _as(lifecycle, bob, "POST", "/deploy", json=bobs))
    assert _secret_seen(lifecycle, family) == "|bob"
    # So does the owner's own new source when it does not bring them again.
    again = {"manifest": _manifest(family), "build_context": _source(tmp_path, "alice2"), "force": True}
    _done(lifecycle, _as(lifecycle, alice, "POST", "/deploy", json=again))
    assert _secret_seen(lifecycle, family) == "|alice2"
