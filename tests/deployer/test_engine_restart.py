"""A restart of the Docker engine (what a host reboot does to the jobs): every job that was serving
serves again through pub within 30 s of the engine answering, with no user action, under steady
traffic, and the registry holds the addresses the containers came back with.

The engine restarted is one the test starts itself (tests/deployer/private_engine.py): restarting the
shared engine would stop everyone else's containers. The real lifecycle and pub, as `make run` starts
them, are pointed at it by DOCKER_HOST, as an operator points the platform at a remote engine."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.private_engine import PrivateEngine
from tests.deployer.probe import deploy_probe, probe_manifest
from tests.deployer.test_recovery import RECOVERY, Traffic
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine


@pytest.fixture
def engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine()
    try:
        engine.start()
        settings = Settings()
        engine.load_images(settings.base_image_python)
        yield engine
    finally:
        engine.remove()
    assert engine.shared_bridge_kept(), "the shared engine's docker0 is gone"


@pytest.fixture
def platform(engine: PrivateEngine, tmp_path: Path) -> Iterator[dict]:
    """The lifecycle and pub as `make run` starts them, the lifecycle pointed at the private engine;
    each can be killed and started again on its port."""
    lifecycle = LifecycleProcess(tmp_path / "data", extra_env=engine.env())
    parts: dict = {"lifecycle": lifecycle}
    try:
        lifecycle.start()
        parts["pub_env"] = {k: v for k, v in lifecycle.env.items() if k.startswith("RACETRACK_")}
        parts["pub"] = PubProcess(parts["pub_env"])
        yield parts
    finally:
        if "pub" in parts:
            parts["pub"].stop()
        lifecycle.stop()


def _addresses(engine: PrivateEngine, family: str) -> dict[str, str]:
    """Each running job container's address on its network, by version."""
    found = {}
    for container in engine.client().containers.list(filters={"label": f"racetrack/job-name={family}"}):
        (network,) = container.attrs["NetworkSettings"]["Networks"].values()
        found[container.labels["racetrack/job-version"]] = f"{network['IPAddress']}:7000"
    return found


def test_jobs_serve_again_after_the_engine_restarts(
    engine: PrivateEngine, platform: dict, tmp_path: Path
) -> None:
    lifecycle: LifecycleProcess = platform["lifecycle"]
    family = "restart-probe"
    versions = ("1.0.0", "2.0.0")
    for version in versions:
        deploy_probe(lifecycle, tmp_path, probe_manifest(family, version))
    traffics = {
        version: Traffic(
            f"{platform['pub'].url}/pub/job/{family}/{version}/api/v1/perform",
            lifecycle.token or "",
            right=lambda response, version=version: response.json()["version"] == version,
        )
        for version in versions
    }
    with contextlib.ExitStack() as running:
        for traffic in traffics.values():
            running.enter_context(traffic)
            traffic.succeeds_after(time.monotonic())

        # The engine alone restarts (e.g. upgraded); the platform's processes run on.
        down = time.monotonic()
        engine.stop()
        stopped = time.monotonic()
        engine.start()
        assert engine.shared_bridge_kept(), (
            "restarting the private engine removed the shared engine's docker0"
        )
        up = time.monotonic()
        what = f"engine restart: stopped in {stopped - down:.1f} s, answered again {up - stopped:.1f} s later"
        _all_serve_again(traffics, down, up, what)
        _registry_follows(engine, lifecycle, family, versions)

        # A host reboot: the engine and the platform's processes all go down, and come back.
        down = time.monotonic()
        lifecycle.kill()
        platform["pub"].kill()
        engine.stop()
        engine.start()
        lifecycle.start()
        platform["pub"] = PubProcess(platform["pub_env"], port=platform["pub"].port)
        up = time.monotonic()
        _all_serve_again(
            traffics, down, up, f"host reboot: everything back {up - down:.1f} s after it went down"
        )
    _registry_follows(engine, lifecycle, family, versions)
    wrong = {version: len(traffic.wrong) for version, traffic in traffics.items() if traffic.wrong}
    assert wrong == {}, f"calls answered by another version: {wrong}"


def _all_serve_again(traffics: dict[str, Traffic], down: float, up: float, what: str) -> None:
    """Each version serves again through pub within RECOVERY of `up`, and no call fails after; prints
    how long each took."""
    backs = {version: traffic.succeeds_after(up, timeout=RECOVERY) for version, traffic in traffics.items()}
    for version, traffic in traffics.items():
        failed = traffic.failures_outside(down, backs[version], since=down)
        assert failed == [], f"calls to {version} failed after it served again"
    print(f"{what}; " + ", ".join(f"{v} served again {back - up:.1f} s after" for v, back in backs.items()))


def _registry_follows(engine: PrivateEngine, lifecycle: LifecycleProcess, family: str, versions) -> None:
    registered = {
        version: lifecycle.request("GET", f"/job/{family}/{version}").json()["internal_name"]
        for version in versions
    }
    assert registered == _addresses(engine, family)
