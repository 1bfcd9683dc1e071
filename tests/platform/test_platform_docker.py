"""`pulumi up` on the platform's local stack brings Racetrack up on Docker, for real.

From this checkout with a temporary file backend: up (PostgreSQL, the platform image, lifecycle, pub,
dashboard), log in as the admin, deploy the adder sample and call it through pub, preview a config
change (only that change shows), then destroy and find nothing left.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import docker
import httpx
import pytest
import yaml

from jobtypes.source import pack_directory

from .conftest import REPO, PulumiRun

pytestmark = pytest.mark.engine

SAMPLE = REPO / "sample" / "python-class"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftovers(stack: str) -> dict[str, list[str]]:
    client = docker.from_env()
    label = f"racetrack/platform={stack}"
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters={"label": label})],
        "volumes": [v.name for v in client.volumes.list(filters={"label": label})],
        "networks": [n.name for n in client.networks.list(names=[f"racetrack-{stack}"])],
    }


@pytest.fixture
def stack(pulumi: PulumiRun):
    """A uniquely named copy of the local stack, on free ports; everything it made is removed after."""
    name = f"test-{uuid.uuid4().hex[:6]}"
    stack_file = REPO / f"Pulumi.{name}.yaml"
    settings = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())
    for key in ("lifecyclePort", "dashboardPort", "pubPort", "postgresPort"):
        settings["config"][f"racetrack:{key}"] = _free_port()
    stack_file.write_text(yaml.safe_dump(settings))
    family = f"adder-{name}"
    try:
        pulumi(REPO, "stack", "init", name)
        yield name, settings["config"], family
    finally:
        pulumi(REPO, "destroy", "--yes", "--skip-preview", "--stack", name, check=False)
        pulumi(REPO, "stack", "rm", "--yes", "--force", name, check=False)
        stack_file.unlink(missing_ok=True)
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}):
            container.remove(force=True)
        for image in client.images.list(filters={"label": f"racetrack.job-name={family}"}):
            client.images.remove(image.id, force=True)
        left = _leftovers(name)
        for container in left["containers"]:
            client.containers.get(container).remove(force=True)
        for volume in left["volumes"]:
            client.volumes.get(volume).remove(force=True)
        for network in left["networks"]:
            client.networks.get(network).remove()


def _deploy_adder(lifecycle: str, token: str, family: str) -> dict:
    manifest = yaml.safe_load((SAMPLE / "job.yaml").read_text())
    manifest["name"] = family
    headers = {"X-Racetrack-Auth": token}
    response = httpx.post(
        f"{lifecycle}/api/v1/deploy",
        headers=headers,
        timeout=60,
        json={"manifest": manifest, "build_context": pack_directory(SAMPLE)},
    )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{lifecycle}/api/v1/deploy/{response.json()['id']}", headers=headers, timeout=30
        ).json()
        if body["status"] != "in_progress":
            return body
        time.sleep(1)
    raise AssertionError("the deployment did not end within 900 s")


def test_up_deploy_call_preview_destroy(stack: tuple[str, dict, str], pulumi: PulumiRun) -> None:
    name, config, family = stack
    started = time.monotonic()
    pulumi(REPO, "up", "--yes", "--skip-preview", "--stack", name, timeout=1800)
    up_seconds = time.monotonic() - started
    outputs = json.loads(pulumi(REPO, "stack", "output", "--json", "--show-secrets", "--stack", name).stdout)
    lifecycle = outputs["lifecycleUrl"]
    assert lifecycle == f"http://127.0.0.1:{config['racetrack:lifecyclePort']}/lifecycle"
    print(f"pulumi up: {up_seconds:.0f} s")

    assert httpx.get(f"{lifecycle}/live", timeout=10).status_code == 200
    assert httpx.get(f"{outputs['dashboardUrl']}/live", timeout=10).status_code == 200
    roles = {
        c.labels["racetrack/role"]
        for c in docker.from_env().containers.list(filters={"label": f"racetrack/platform={name}"})
    }
    has_pub = (REPO / "api" / "pub" / "__main__.py").is_file()
    assert roles == {"postgres", "lifecycle", "dashboard"} | ({"pub"} if has_pub else set())
    if has_pub:  # pub is the Go gateway, a child of the launcher, next to the async service
        (pub_container,) = docker.from_env().containers.list(
            filters={"label": [f"racetrack/platform={name}", "racetrack/role=pub"]}
        )
        commands = [process[-1] for process in pub_container.top()["Processes"]]
        assert any("racetrack-pub" in command for command in commands), commands

    # The secret outputs are secret; the admin logs in with the generated password.
    plain = pulumi(REPO, "stack", "output", "--json", "--stack", name).stdout
    assert outputs["adminPassword"] not in plain
    login = httpx.post(
        f"{lifecycle}/api/v1/users/login",
        timeout=30,
        json={"username": outputs["adminUsername"], "password": outputs["adminPassword"]},
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]

    deployed = _deploy_adder(lifecycle, token, family)
    assert deployed["status"] == "done", deployed["error"]
    job = httpx.get(
        f"{lifecycle}/api/v1/job/{family}/1.0.0", headers={"X-Racetrack-Auth": token}, timeout=30
    ).json()
    assert job["status"] == "running", job
    # The lifecycle (in its container) deployed the job onto its version's own network, not the
    # platform's (where PostgreSQL is).
    job_container = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})[0]
    networks = list(job_container.attrs["NetworkSettings"]["Networks"])
    assert networks == [f"racetrack-{name}-job-{family}-v-1-0-0"]
    if has_pub:
        url = f"{outputs['pubUrl']}/job/{family}/1.0.0/api/v1/perform"
        assert httpx.post(url, json={"numbers": [40, 2]}, timeout=30).status_code == 401
        called = httpx.post(url, json={"numbers": [40, 2]}, headers={"X-Racetrack-Auth": token}, timeout=30)
    else:  # this checkout has no pub yet: the job itself answers on its address
        called = httpx.post(
            f"http://{job['internal_name']}/pub/job/{family}/1.0.0/api/v1/perform",
            json={"numbers": [40, 2]},
            timeout=30,
        )
    assert called.status_code == 200, called.text
    assert called.json() == 42
    if has_pub:  # jobs reach pub at host.docker.internal, as job-to-job calls do
        probe = f"import urllib.request; urllib.request.urlopen('http://host.docker.internal:{config['racetrack:pubPort']}/pub/live')"
        docker.from_env().containers.run(
            "racetrack/base-python:bookworm",
            ["python3", "-c", probe],
            remove=True,
            extra_hosts={"host.docker.internal": "host-gateway"},
        )

    # A config change of one component previews as that change only.
    pulumi(REPO, "config", "set", "--path", "racetrack:lifecycleEnv.LOG_LEVEL", "debug", "--stack", name)
    preview = json.loads(pulumi(REPO, "preview", "--json", "--stack", name).stdout)
    changed = {
        step["urn"].rsplit("::", 1)[1]: step["op"] for step in preview["steps"] if step["op"] != "same"
    }
    assert changed == {"lifecycle": "replace"}, changed
    diff = pulumi(REPO, "preview", "--diff", "--stack", name).stdout
    assert '"info" => "debug"' in diff
    assert outputs["adminPassword"] not in diff

    deleted = httpx.delete(
        f"{lifecycle}/api/v1/job/{family}/1.0.0", headers={"X-Racetrack-Auth": token}, timeout=120
    )
    assert deleted.status_code in (200, 202), deleted.text
    deadline = time.monotonic() + 300
    while docker.from_env().containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}):
        assert time.monotonic() < deadline, "the job container was not removed"
        time.sleep(1)

    pulumi(REPO, "destroy", "--yes", "--skip-preview", "--stack", name, timeout=600)
    assert _leftovers(name) == {"containers": [], "volumes": [], "networks": []}
