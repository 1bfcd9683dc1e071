"""Helpers for tests that build job images and run them as containers for real.

Every image, container and network made here has a unique name and is removed afterwards;
containers publish their port on 127.0.0.1 only. Waits are bounded polls of /live.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import yaml

import jobtypes
from api.settings import Settings
from stacks.docker.build import build_images

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample"
RUN_ID = uuid.uuid4().hex[:8]


def job_settings(data_dir: Path) -> Settings:
    # The defaults a user gets: builds trust the host's CA bundle without being told to.
    return Settings(data_dir=data_dir)


def load_manifest(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "job.yaml").read_text(encoding="utf-8"))


class Built:
    """A built job: its plan (images), manifest and full build log."""

    def __init__(
        self, plan: jobtypes.BuildPlan, manifest: dict[str, Any], log: list[str], seconds: float
    ) -> None:
        self.plan = plan
        self.manifest = manifest
        self.log = log
        self.seconds = seconds


def build_job(
    folder: Path,
    settings: Settings,
    workspace: Path,
    *,
    manifest: dict[str, Any] | None = None,
    secret_build_env: dict[str, str] | None = None,
    build_id: str | None = None,
) -> Built:
    manifest = manifest or load_manifest(folder)
    log: list[str] = []
    source = jobtypes.unpack_build_context(workspace, jobtypes.pack_directory(folder))
    plan = jobtypes.plan_build(
        manifest,
        source,
        build_id=build_id or f"t{RUN_ID}-{uuid.uuid4().hex[:6]}",
        secret_build_env=secret_build_env,
        settings=settings.build_settings(),
        log=log.append,
    )
    started = time.monotonic()
    try:
        build_images(plan, log=log.append, settings=settings.build_settings())
    finally:
        plan.cleanup()
    return Built(plan, manifest, log, time.monotonic() - started)


def remove_images(built: Built) -> None:
    client = docker.from_env()
    for image in built.plan.images:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image.image, force=True)


def wait_live(base_url: str, timeout: float = 60.0) -> httpx.Response:
    """Polls /live until it answers 200 or 500 (failed init), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(base_url + "/live", timeout=2.0)
            if response.status_code in (200, 500):
                return response
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{base_url}/live did not answer within {timeout} s ({last})")


def wait_ready(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base_url + "/ready", timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{base_url}/ready did not answer 200 within {timeout} s")


@contextlib.contextmanager
def run_job(
    built: Built,
    *,
    pub_url: str = "http://127.0.0.1:9/pub",
    secret_runtime_env: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
    restart_policy: str | None = None,
) -> Iterator[tuple[str, Any]]:
    """Runs the job's containers (one network); yields (base URL on 127.0.0.1, main container).

    `restart_policy` (e.g. "unless-stopped", as the Docker stack runs jobs) applies to the main one."""
    client = docker.from_env()
    name = f"rt-jt-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    env = jobtypes.job_runtime_env(
        built.manifest,
        pub_url=pub_url,
        auth_token="test-token",
        job_type_env=built.plan.runtime_env,
        secret_runtime_env=secret_runtime_env,
    )
    env.update(extra_env or {})
    containers = jobtypes.job_containers(built.plan, name=name, env=env)
    network = client.networks.create(name) if len(containers) > 1 else None
    started: list[Any] = []
    try:
        for spec in reversed(containers):  # sidecars first, so the main one finds them
            options: dict[str, Any] = {"name": spec.name, "environment": spec.env, "detach": True}
            if network is not None:
                options["network"] = network.name
            if spec is containers[0]:
                options["ports"] = {f"{spec.port}/tcp": ("127.0.0.1", None)}
                if restart_policy:
                    options["restart_policy"] = {"Name": restart_policy}
            started.append(client.containers.run(spec.image, **options))
        main = started[-1]
        deadline = time.monotonic() + 20
        port = None
        while port is None and time.monotonic() < deadline:
            main.reload()
            bindings = (main.ports or {}).get(f"{containers[0].port}/tcp")
            port = bindings[0]["HostPort"] if bindings else None
            if port is None:
                time.sleep(0.1)
        assert port, f"container {name} published no port; logs: {main.logs()[-2000:]!r}"
        yield f"http://127.0.0.1:{port}", main
    finally:
        for container in started:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        if network is not None:
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
