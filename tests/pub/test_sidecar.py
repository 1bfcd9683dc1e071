"""The sidecar form: pub guarding one job at a fixed address, still asking the lifecycle."""

from __future__ import annotations

from dataclasses import replace

import httpx

from api.pub import SidecarTarget

from .conftest import ALICE, BOB, INTERNAL, base_config
from .servers import PubProcess

AUTH = {"X-Racetrack-Auth": ALICE}


def _sidecar(world, start_pub, version: str | None = "1.0.0"):
    # The lifecycle's address for the job is unreachable: a sidecar must use its own target.
    world.lifecycle.add_job("solo", "1.0.0", "127.0.0.1:1")
    target = SidecarTarget(address=world.job_server.address, job_name="solo", job_version=version)
    return start_pub(replace(base_config(world.config.lifecycle_url), sidecar=target))


def test_sidecar_forwards_to_its_target_after_asking_the_lifecycle(world, start_pub):
    sidecar = _sidecar(world, start_pub)
    with httpx.Client(base_url=sidecar.url, trust_env=False, timeout=10) as c:
        r = c.get("/pub/job/solo/1.0.0/echo/x", headers=AUTH)
        assert r.status_code == 200
        assert r.json()["raw_path"] == "/pub/job/solo/1.0.0/echo/x"
        assert r.json()["headers"]["x-caller-name"] == "User alice"
        assert c.get("/pub/job/solo/latest/echo/x", headers=AUTH).status_code == 200
        assert c.get("/pub/job/solo/1.0.0/echo/x").status_code == 401
        assert c.get("/pub/job/solo/1.0.0/echo/x", headers={"X-Racetrack-Auth": BOB}).status_code == 403
        other = c.get("/pub/job/adder/0.0.1/echo/x", headers=AUTH)
        assert other.status_code == 404 and "guards only job 'solo'" in other.json()["error"]
        assert c.get("/health").json()["mode"] == "sidecar"
    assert "solo/1.0.0/echo/x" in world.lifecycle.calls


def test_sidecar_refuses_another_version(world, start_pub):
    world.lifecycle.add_job("solo", "2.0.0", "127.0.0.1:1")
    sidecar = _sidecar(world, start_pub)
    with httpx.Client(base_url=sidecar.url, trust_env=False, timeout=10) as c:
        r = c.get("/pub/job/solo/2.0.0/echo/x", headers=AUTH)
    assert r.status_code == 404


def test_sidecar_as_a_process(world, tmp_path):
    world.lifecycle.add_job("solo", "1.0.0", "127.0.0.1:1")
    sidecar = PubProcess(
        {
            "RACETRACK_LIFECYCLE_URL": world.config.lifecycle_url,
            "RACETRACK_INTERNAL_TOKEN": INTERNAL,
            "RACETRACK_DATA_DIR": str(tmp_path),
            "RACETRACK_PUB_SIDECAR_TARGET": world.job_server.address,
            "RACETRACK_PUB_SIDECAR_JOB_NAME": "solo",
            "RACETRACK_PUB_SIDECAR_JOB_VERSION": "1.0.0",
        },
        sidecar=True,
    )
    try:
        with httpx.Client(base_url=sidecar.url, trust_env=False, timeout=10) as c:
            assert c.get("/health").json()["sidecar_job"] == {
                "name": "solo",
                "version": "1.0.0",
                "address": world.job_server.address,
            }
            r = c.post("/pub/job/solo/1.0.0/api/v1/perform", json={"numbers": [5, 6]}, headers=AUTH)
            assert r.status_code == 200 and r.json()["result"] == 11
    finally:
        sidecar.stop()
