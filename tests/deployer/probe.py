"""A job that reports how it runs (its user, capabilities, privileges), deployed by the real lifecycle."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess

PROBE = '''import os


class ProbeModel:
    def perform(self) -> dict:
        """How this job's process runs."""
        with open("/proc/self/status") as handle:
            status = dict(line.split(":", 1) for line in handle if ":" in line)
        return {
            "uid": os.getuid(),
            "gid": os.getgid(),
            "cap_eff": status["CapEff"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(),
            "version": os.environ.get("JOB_VERSION"),
        }
'''


def probe_manifest(name: str, version: str = "1.0.0", **extra: object) -> dict:
    return {
        "name": name,
        "owner_email": "owner@example.com",
        "jobtype": "python3:latest",
        "version": version,
        "git": {"remote": "https://github.com/example/jobs"},
        "jobtype_extra": {"entrypoint_path": "probe.py", "entrypoint_class": "ProbeModel"},
        **extra,
    }


def deploy_probe(lifecycle: LifecycleProcess, tmp_path: Path, manifest: dict) -> dict:
    """Deploys the probe job and answers its registry entry."""
    folder = tmp_path / f"probe-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    response = lifecycle.request(
        "POST", "/deploy", json={"manifest": manifest, "build_context": pack_directory(folder)}
    )
    assert response.status_code == 202, response.text
    deployment = lifecycle.wait_deployment(response.json()["id"])
    assert deployment["status"] == "done", deployment["error"]
    return lifecycle.request("GET", f"/job/{manifest['name']}/{manifest['version']}").json()


def job_container(name: str, version: str = "1.0.0"):
    """The running container of the job's first replica."""
    labels = [f"racetrack/job-name={name}", f"racetrack/job-version={version}", "racetrack/replica=0"]
    (container,) = docker.from_env().containers.list(filters={"label": labels})
    return container
