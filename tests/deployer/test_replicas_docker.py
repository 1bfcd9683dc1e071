"""A job with `replicas: 3` on the real platform: lifecycle (deploy engine, Pulumi, Docker), pub's gateway.

Calls through pub reach all three replicas, the job's runtime logs hold all three (each named), and
the monitor notices the replica that is killed while pub keeps answering from the other two.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess, remove_job_families
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"

# Each replica answers with its container's host name and says so in its log.
JOB = """import socket
from typing import Any


class WhoAmI:
    def perform(self) -> str:
        name = socket.gethostname()
        print(f"answered by {name}", flush=True)
        return name

    def docs_input_example(self) -> dict[str, Any]:
        return {}
"""


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[LifecycleProcess]:
    server = LifecycleProcess(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
def pub(lifecycle: LifecycleProcess) -> Iterator[PubProcess]:
    env = {key: value for key, value in lifecycle.env.items() if key.startswith("RACETRACK_")}
    server = PubProcess(env)
    yield server
    server.stop()


@pytest.fixture
def family() -> Iterator[str]:
    name = f"whoami-{uuid.uuid4().hex[:6]}"
    yield name
    remove_job_families([name])


def test_three_replicas_serve_log_and_are_watched(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "whoami.py").write_text(JOB)
    (folder / "requirements.txt").write_text("")
    manifest = {
        **yaml.safe_load((SAMPLE / "job.yaml").read_text()),
        "name": family,
        "replicas": 3,
        "jobtype_extra": {
            "entrypoint_path": "whoami.py",
            "entrypoint_class": "WhoAmI",
            "requirements_path": "requirements.txt",
        },
    }
    response = lifecycle.request(
        "POST", "/deploy", json={"manifest": manifest, "build_context": pack_directory(folder)}
    )
    assert response.status_code == 202, response.text
    deployment = lifecycle.wait_deployment(response.json()["id"])
    assert deployment["status"] == "done", deployment["error"]

    containers = docker.from_env().containers.list(
        filters={"label": [f"racetrack/job-name={family}", "racetrack/role=job"]}
    )
    hostnames = {c.attrs["Config"]["Hostname"]: c for c in containers}
    assert len(hostnames) == 3

    url = f"/pub/job/{family}/1.0.0/api/v1/perform"
    with httpx.Client(
        base_url=pub.url, headers={"X-Racetrack-Auth": lifecycle.token or ""}, timeout=30, trust_env=False
    ) as client:
        answers = [client.post(url, json={}) for _ in range(9)]
        assert [a.status_code for a in answers] == [200] * 9, [a.text for a in answers]
        assert {a.json() for a in answers} == set(hostnames)  # every replica took calls

        logs = lifecycle.request("GET", f"/job/{family}/1.0.0/logs", params={"tail": 0}).json()["logs"]
        sections = {s.split("\n", 1)[0]: s for s in logs.split("==> replica ")[1:]}
        assert len(sections) == 3, logs
        for hostname, container in hostnames.items():
            section = sections[f"{container.labels['racetrack/replica']} ({container.name}) <=="]
            assert f"answered by {hostname}" in section  # each replica's own lines under its name

        killed = next(c for c in containers if c.labels["racetrack/replica"] == "1")
        killed.kill()
        # Pub passes over the killed replica: every call is still answered, by the other two.
        after = [client.post(url, json={}) for _ in range(6)]
        assert [a.status_code for a in after] == [200] * 6, [a.text for a in after]
        assert {a.json() for a in after} == set(hostnames) - {killed.attrs["Config"]["Hostname"]}

    # The monitor (every 30 s by default) marks the job as failing, naming the replica.
    deadline = time.monotonic() + 120
    job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    while job["status"] != "error" and time.monotonic() < deadline:
        time.sleep(1)
        job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    assert job["status"] == "error", job
    assert f"{killed.name} is exited" in job["error"] and "1 of 3 replicas do not run" in job["error"]
