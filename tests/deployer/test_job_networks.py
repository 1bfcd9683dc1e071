"""Each job version has a network of its own that only pub reaches: from inside a job's container,
another family's job, a service on the platform's network (where the platform stack keeps its
PostgreSQL) and the lifecycle cannot be reached, while pub, and through it the other job, can; and
when containers restart, no version's container can take the address another version had, so pub
never forwards one version's callers to another. Real lifecycle and pub as `make run` starts them,
real job containers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from api.run import _docker_bridge_gateway
from api.settings import Settings
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.probe import deploy_probe, job_container, probe_manifest
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine

# Run inside a job's container: tries each address and says what came of it.
CONNECT = """
import json, socket, sys
results = {}
for address in sys.argv[1:]:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        results[address] = "connected"
    except OSError as exc:
        results[address] = type(exc).__name__
print(json.dumps(results))
"""
CALL = """
import json, os, sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=b"{}", method="POST", headers={
    "Content-Type": "application/json", "X-Racetrack-Auth": os.environ["AUTH_TOKEN"]})
print(urllib.request.urlopen(request, timeout=10).read().decode())
"""


@pytest.fixture
def platform_service() -> Iterator[str]:
    """A listener on a network of the platform's own (what the platform stack gives PostgreSQL)."""
    client = docker.from_env()
    name = f"nettest-{uuid.uuid4().hex[:6]}"
    network = client.networks.create(name, driver="bridge")
    container = client.containers.run(
        Settings().base_image_python,
        ["python3", "-m", "http.server", "5432"],
        name=name,
        network=name,
        detach=True,
    )
    try:
        container.reload()
        yield container.attrs["NetworkSettings"]["Networks"][name]["IPAddress"] + ":5432"
    finally:
        container.remove(force=True)
        network.remove()


def _run_in(container, script: str, *args: str) -> str:
    code, output = container.exec_run(["python3", "-c", script, *args])
    assert code == 0, output.decode()
    return output.decode()


def test_a_job_reaches_nothing_but_pub(
    lifecycle: LifecycleProcess, pub: PubProcess, families: list[str], platform_service: str, tmp_path: Path
) -> None:
    families += [f"net-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    mine, other = (deploy_probe(lifecycle, tmp_path, probe_manifest(name)) for name in families)
    container = job_container(mine["name"])
    gateway = _docker_bridge_gateway()
    targets = {
        "another family's job": other["internal_name"],
        "the platform's network": platform_service,
        "the lifecycle": f"{gateway}:{lifecycle.port}",
    }
    results = json.loads(_run_in(container, CONNECT, *targets.values()))
    reached = {what: results[address] for what, address in targets.items() if results[address] == "connected"}
    assert reached == {}, f"a job reached {reached}"

    # Through pub, with its family's token, the other job answers (pub decides, as for any caller).
    allow = lifecycle.request(
        "POST", f"/auth/allow/job_family/{mine['name']}/job/{other['name']}/scope/call_job"
    )
    assert allow.status_code in (200, 201), allow.text
    url = f"http://host.docker.internal:{pub.port}/pub/job/{other['name']}/1.0.0/api/v1/perform"
    assert json.loads(_run_in(container, CALL, url))["uid"] == 10000


def test_a_restart_never_sends_one_versions_callers_to_another(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    second_address = [
        deploy_probe(lifecycle, tmp_path, probe_manifest(family, version))["internal_name"]
        for version in ("1.0.0", "2.0.0")
    ][1]
    first, second = job_container(family, "1.0.0"), job_container(family, "2.0.0")
    # Versions do not reach each other either, but through pub.
    assert json.loads(_run_in(first, CONNECT, second_address))[second_address] != "connected"
    headers = {"X-Racetrack-Auth": lifecycle.token or ""}

    def call(version: str) -> httpx.Response:
        url = f"{pub.url}/pub/job/{family}/{version}/api/v1/perform"
        return httpx.post(url, json={}, headers=headers, timeout=30, trust_env=False)

    def serves(version: str) -> dict:
        deadline = time.monotonic() + 30
        while (answered := call(version)).status_code != 200:
            assert time.monotonic() < deadline, f"{version} did not serve within 30 s: {answered.text}"
            time.sleep(0.2)
        return answered.json()

    assert serves("1.0.0")["version"] == "1.0.0"
    # As after an engine restart, the containers start again in another order: Docker gives each the
    # lowest address free on its network, which, on a network both versions shared, was 1.0.0's.
    # While 1.0.0 is down, the registry keeps its last address (no copy of it runs elsewhere).
    first.stop(timeout=5)
    second.stop(timeout=5)
    second.start()
    assert serves("2.0.0")["version"] == "2.0.0"
    answered = call("1.0.0")
    assert answered.status_code != 200 or answered.json()["version"] == "1.0.0", (
        f"a caller of 1.0.0 was answered by {answered.json()['version']}"
    )
    first.start()
    assert serves("1.0.0")["version"] == "1.0.0"
