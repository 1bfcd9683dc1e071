"""The real Pulumi engine builds an image and runs it on the local Docker engine.

No mocks: the docker-build provider plugin built by `make setup` builds the image, the container
resource starts it with a port on 127.0.0.1, and the test talks HTTP to it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import httpx
import pulumi
import pytest

from api.settings import Settings
from stacks.digest import context_digest
from stacks.docker import Container, Image
from stacks.engine import EngineConfig, open_stack, remove_stack
from stacks.plan import PlanCollector

pytestmark = pytest.mark.engine


def _write_context(path: Path, greeting: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "index.html").write_text(greeting)
    (path / "Dockerfile").write_text(
        f"FROM {Settings().base_image_python}\n"
        "COPY index.html /srv/index.html\n"
        'CMD ["python3", "-m", "http.server", "8000", "--directory", "/srv", "--bind", "0.0.0.0"]\n'
    )
    return path


def _get_until_answers(url: str, attempts: int = 100) -> httpx.Response:
    """Polls a freshly started server a bounded number of times (about 10 s)."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError as exc:
            last = exc
            import time

            time.sleep(0.1)
    raise AssertionError(f"{url} never answered: {last}")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def test_build_run_preview_destroy(engine_config: EngineConfig, tmp_path: Path, unique: str) -> None:
    context = _write_context(tmp_path / "ctx", "hello from pulumi")
    tag = f"racetrack-engine-test:{unique}"
    label = {"racetrack-test": unique}

    def program() -> None:
        image = Image(
            "web-image",
            {
                "tag": tag,
                "context": str(context),
                "dockerfile": str(context / "Dockerfile"),
                "context_digest": context_digest(context),
                "labels": label,
            },
        )
        container = Container(
            "web",
            {
                "name": f"engine-test-{unique}",
                "image": tag,
                "image_id": image.image_id,
                "labels": label,
                "ports": [{"container_port": 8000, "host_ip": "127.0.0.1", "host_port": 0}],
            },
        )
        pulumi.export("address", container.published.apply(lambda p: p["8000"]))

    stack = open_stack(engine_config, project="engine-test", stack=f"docker-{unique}", program=program)
    client = docker.from_env()
    try:
        up = stack.up()
        address = up.outputs["address"].value
        assert address.startswith("127.0.0.1:")
        assert _get_until_answers(f"http://{address}/").text == "hello from pulumi"

        # A change to the build context: preview names exactly the image and the container.
        _write_context(context, "hello again")
        collector = PlanCollector()
        preview = stack.preview(on_event=collector.on_event)
        plan = collector.plan()
        assert {step.name: step.op for step in plan.steps} == {"web-image": "replace", "web": "replace"}
        by_name = {step.name: step for step in plan.steps}
        assert by_name["web-image"].diffs == ["context_digest"]
        assert by_name["web"].diffs == ["image_id"]
        assert preview.change_summary.get("replace") == 2
    finally:
        stack.destroy()
        remove_stack(engine_config, project="engine-test", stack=f"docker-{unique}")
    assert client.containers.list(all=True, filters={"label": f"racetrack-test={unique}"}) == []
    # Images outlive their stack on purpose (rollbacks reuse them); the test removes its own.
    client.images.remove(tag, force=True)
