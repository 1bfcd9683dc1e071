"""Docker job containers run locked down: an unprivileged user, no capabilities, no way to gain
privileges, and caps on memory, CPU and processes (the platform's defaults, or the manifest's
`resources`). Deployed by the real lifecycle; checked from inside the job and with `docker inspect`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.probe import deploy_probe, job_container, probe_manifest

pytestmark = pytest.mark.engine

NO_CAPABILITIES = "0000000000000000"
MANY_THREADS = """
import threading, time
started = 0
try:
    for _ in range(5000):
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        started += 1
except RuntimeError:
    pass
print(started)
"""


def _perform(job: dict) -> dict:
    url = f"http://{job['internal_name']}/pub/job/{job['name']}/{job['version']}/api/v1/perform"
    return httpx.post(url, json={}, timeout=10).json()


def test_a_job_runs_unprivileged_within_limits(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    job = deploy_probe(lifecycle, tmp_path, probe_manifest(family))
    seen = _perform(job)
    assert seen == {
        "uid": 10000,
        "gid": 10000,
        "cap_eff": NO_CAPABILITIES,
        "no_new_privs": "1",
        "version": "1.0.0",
    }

    container = job_container(family)
    host = container.attrs["HostConfig"]
    assert container.attrs["Config"]["User"] == "10000:10000"
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (2**30, 10**9, 1024)
    assert not host["Privileged"]
    assert not any(container.attrs["NetworkSettings"]["Ports"].values()), "no port is published on the host"

    # A fork bomb stops at the pids cap.
    code, output = container.exec_run(["python3", "-c", MANY_THREADS], user="10000")
    assert code == 0, output
    assert int(output) < 1024


def test_the_manifest_sets_the_limits_and_reservations(
    lifecycle: LifecycleProcess, family: str, tmp_path: Path
) -> None:
    resources = {"memory_min": "128Mi", "memory_max": "512Mi", "cpu_min": "250m", "cpu_max": "500m"}
    deploy_probe(lifecycle, tmp_path, probe_manifest(family, resources=resources))
    host = job_container(family).attrs["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"]) == (512 * 2**20, 128 * 2**20)
    assert (host["NanoCpus"], host["CpuShares"]) == (5 * 10**8, 256)
