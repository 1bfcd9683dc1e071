"""Jobs ride out restarts with no user action: under steady traffic through pub, a restart of the
lifecycle, of pub, of both (what restarting the platform does), and of the job's containers with new
addresses (what a restart of the Docker engine does to them) fails calls only while the part is down,
and the job serves again through pub within 30 s. Real lifecycle, pub and job containers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import httpx
import pytest

from api.settings import Settings
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.probe import deploy_probe, job_container, probe_manifest
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine

RECOVERY = 30.0  # seconds a job may take to serve again through pub after the part is back


class Traffic:
    """Calls the job through pub, one call after another, recording when each started and how it ended."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        right: Callable[[httpx.Response], bool] | None = None,
        callers: int = 1,
        pause: float = 0.05,
    ) -> None:
        """`callers` threads, each calling again `pause` seconds after its last call ended; `right` tells
        a 200 from the right job from one answered by another."""
        self.url, self.token, self.right, self.pause = url, token, right, pause
        self.calls: list[tuple[float, bool]] = []
        self.wrong: list[float] = []  # answered 200, but not as `right` says the job answers
        self.errors: list[str] = []  # what the failed calls answered
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(callers)]

    def _run(self) -> None:
        with httpx.Client(headers={"X-Racetrack-Auth": self.token}, timeout=10, trust_env=False) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = client.post(self.url, json={})
                    ok = response.status_code == 200
                    if ok and self.right is not None and not self.right(response):
                        ok = False
                        self.wrong.append(started)
                    if not ok:
                        self.errors.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    ok = False
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.calls.append((started, ok))
                self._stop.wait(self.pause)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def between(self, start: float, end: float) -> list[bool]:
        """How each call started between `start` and `end` ended (True: answered 200)."""
        return [ok for started, ok in list(self.calls) if start <= started <= end]

    def succeeds_after(self, moment: float, timeout: float = RECOVERY) -> float:
        """Waits (bounded) for calls started after `moment` to succeed; answers when the first did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [(started, ok) for started, ok in self.calls if started >= moment]
            if any(ok for _, ok in done):
                first = min(started for started, ok in done if ok)
                # A few more calls after the first success, which must all succeed too.
                if len([c for c in done if c[0] > first]) >= 5:
                    return first
            time.sleep(0.1)
        raise AssertionError(f"no call through pub succeeded within {timeout} s after the part was back")

    def failures_between(self, start: float, end: float) -> list[float]:
        return [started for started, ok in self.calls if not ok and start <= started <= end]

    def failures_outside(self, down: float, up: float, since: float) -> list[float]:
        return [
            started for started, ok in self.calls if not ok and started >= since and not down <= started < up
        ]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[dict]:
    """The lifecycle and pub as `make run` starts them, each restartable on its own port."""
    lifecycle = LifecycleProcess(tmp_path / "data").start()
    env = {key: value for key, value in lifecycle.env.items() if key.startswith("RACETRACK_")}
    parts = {"lifecycle": lifecycle, "pub_env": env, "pub": PubProcess(env)}
    yield parts
    parts["pub"].stop()
    lifecycle.stop()


def _restart_pub(platform: dict) -> None:
    port = platform["pub"].port
    platform["pub"].kill()
    platform["pub"] = PubProcess(platform["pub_env"], port=port)


def test_jobs_serve_again_after_restarts(platform: dict, family: str, tmp_path: Path) -> None:
    lifecycle: LifecycleProcess = platform["lifecycle"]
    job = deploy_probe(lifecycle, tmp_path, probe_manifest(family))
    url = f"{platform['pub'].url}/pub/job/{family}/1.0.0/api/v1/perform"
    with Traffic(url, lifecycle.token or "") as traffic:
        traffic.succeeds_after(time.monotonic())

        for part in ("lifecycle", "pub", "both"):
            down = time.monotonic()
            if part in ("lifecycle", "both"):
                lifecycle.kill()
            if part in ("pub", "both"):
                _restart_pub(platform)
            if part in ("lifecycle", "both"):
                lifecycle.start()
            up = time.monotonic()
            back = traffic.succeeds_after(up)
            assert traffic.failures_outside(down, up, since=down) == [], f"calls failed after {part} was back"
            print(f"{part}: down {up - down:.1f} s, failed calls {len(traffic.failures_between(down, back))}")

        # The job's container restarts with another address, as after a restart of the Docker engine.
        container = job_container(family)
        old_address = job["internal_name"]
        network = next(iter(container.attrs["NetworkSettings"]["Networks"]))
        down = time.monotonic()
        container.stop(timeout=5)
        holder = docker.from_env().containers.run(
            Settings().base_image_python,
            ["sleep", "120"],
            network=network,
            detach=True,
            name=f"{family}-holder",
        )
        try:
            container.start()
            # The job is down until its process serves again in the restarted container.
            back = traffic.succeeds_after(time.monotonic())
        finally:
            holder.remove(force=True)
        moved = lifecycle.request("GET", f"/job/{family}/1.0.0").json()["internal_name"]
        assert moved != old_address
        assert (
            moved.split(":")[0]
            == job_container(family).attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        )
        timeline = [(round(started - down, 2), ok) for started, ok in traffic.calls if started >= down]
        assert traffic.failures_outside(down, back, since=down) == [], timeline
        print(f"job container: served again through pub {back - down:.1f} s after it was stopped")
