"""A job family's stack on Docker through the runner: deploy, preview a change, roll back, destroy."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from api.settings import Settings
from stacks.digest import context_digest
from stacks.engine import EngineConfig
from stacks.runner import StackRunner
from stacks.spec import ContainerSpec, FamilySpec, ImageSpec, VersionSpec

pytestmark = pytest.mark.engine


def _context(path: Path, body: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "index.html").write_text(body)
    (path / "live").write_text("{}")  # the engine waits for /live and /ready before a container counts
    (path / "ready").write_text("{}")
    (path / "Dockerfile").write_text(
        f"FROM {Settings().base_image_python}\nCOPY index.html live ready /srv/\n"
        'CMD ["python3", "-m", "http.server", "7000", "--directory", "/srv"]\n'
    )
    return path


def _spec(family: str, revision: int, context: Path, *, secret: str = "s3cret") -> FamilySpec:
    digest = context_digest(context)
    image = ImageSpec(
        role="job",
        tag=f"racetrack-test/{family}:0.0.1-{digest[:12]}",
        context_digest=digest,
        context=str(context),
        dockerfile=str(context / "Dockerfile"),
    )
    version = VersionSpec(
        version="0.0.1",
        images=(image,),
        deployment_timestamp=revision,
        run=ContainerSpec(env={"GREETING": "hi"}, secret_env={"TOKEN": secret}),
        labels={"racetrack/revision": str(revision)},
    )
    return FamilySpec(
        family=family,
        target="docker",
        revision=revision,
        versions=(version,),
        latest="0.0.1",
        target_settings={"network": f"racetrack-test-{family}"},
    )


def _fetch(address: str) -> str:
    for _ in range(100):  # a bounded wait for the container's server to listen (about 10 s)
        try:
            return httpx.get(f"http://{address}/", timeout=1).text
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{address} never answered")


@pytest.fixture
def runner(engine_config: EngineConfig):
    runner = StackRunner(engine_config, max_parallel=2)
    yield runner
    runner.shutdown()


def test_deploy_preview_rollback_destroy(runner: StackRunner, tmp_path: Path) -> None:
    family = f"t{uuid.uuid4().hex[:8]}"
    first = _spec(family, 1, _context(tmp_path / "v1", "first"))
    up = runner.run("up", first)
    assert up.ok, up.details
    address = up.outputs["versions"]["0.0.1"]["addresses"][0]
    # The job is reached at its address on its version's own network; nothing is published on the host.
    network = f"racetrack-test-{family}-job-{family}-v-0-0-1"
    (container,) = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
    assert address == container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"] + ":7000"
    assert not any(container.attrs["NetworkSettings"]["Ports"].values())
    assert _fetch(address) == "first"

    second = _spec(family, 2, _context(tmp_path / "v2", "second"))
    preview = runner.run("preview", second)
    assert preview.ok, preview.details
    ops = {step["name"]: (step["op"], step["diffs"]) for step in preview.plan["steps"]}
    name = f"job-{family}-v-0-0-1"
    assert ops == {
        f"{name}-job-image": ("replace", ["context_digest", "tag"]),
        name: ("replace", ["env", "image", "image_id", "labels"]),
    }
    assert "s3cret" not in str(preview.plan)

    up2 = runner.run("up", second)
    assert up2.ok, up2.details
    assert _fetch(up2.outputs["versions"]["0.0.1"]["addresses"][0]) == "second"

    # Rolling back applies revision 1 again: its image is found by tag and digest, not rebuilt.
    build_log = tmp_path / "rollback.log"
    rollback = runner.run("up", first, log_path=str(build_log))
    assert rollback.ok, rollback.details
    assert _fetch(rollback.outputs["versions"]["0.0.1"]["addresses"][0]) == "first"
    assert "Step" not in build_log.read_text() and "#1 [internal]" not in build_log.read_text()

    destroyed = runner.run("destroy", first)
    assert destroyed.ok, destroyed.details
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}) == []
    assert client.networks.list(names=[network]) == []
    for image in client.images.list(filters={"label": f"racetrack/job-name={family}"}):
        client.images.remove(image.id, force=True)
