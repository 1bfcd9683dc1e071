"""Each job family has a network of its own that only pub reaches: from inside a job's container,
another family's job, a service on the platform's network (where the platform stack keeps its
PostgreSQL) and the lifecycle cannot be reached, while pub, and through it the other job, can.
Real lifecycle and pub as `make run` starts them, real job containers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
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
