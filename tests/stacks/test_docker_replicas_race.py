"""The Docker target's view of running jobs holds while containers come and go next to it.

On a busy engine a job's container can be removed between the engine's list and its inspection (a
delete or a redeploy finishing). That one container is skipped; the others are still reported, so the
monitor's round and the logs go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.api.client
import pytest

from jobtypes.config import BuildSettings
from stacks.docker.target import DockerTarget
from stacks.target import TargetConfig

pytestmark = pytest.mark.engine

IMAGE = BuildSettings().base_image_debian


@pytest.fixture
def two_replicas() -> Iterator[tuple[str, list[Any]]]:
    client = docker.from_env()
    name = f"race-{uuid.uuid4().hex[:8]}"
    containers = [
        client.containers.create(
            IMAGE,
            ["true"],
            name=f"job-{name}-{index}",  # the Docker target knows its containers by this prefix
            labels={
                "racetrack/resource": "job",
                "racetrack/role": "job",
                "racetrack/job-name": name,
                "racetrack/job-version": "1.0.0",
                "racetrack/replica": str(index),
            },
        )
        for index in range(2)
    ]
    yield name, containers
    for container in containers:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_a_container_removed_while_listed_is_skipped(
    two_replicas: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, (doomed, kept) = two_replicas
    inspect = docker.api.client.APIClient.inspect_container

    def removed_first(self: Any, container: str) -> Any:
        # The race, made certain: the engine listed the container, then it goes before it is inspected.
        if container == doomed.id:
            doomed.remove(force=True)
        return inspect(self, container)

    monkeypatch.setattr(docker.api.client.APIClient, "inspect_container", removed_first)
    replicas = DockerTarget(TargetConfig(pub_url="http://127.0.0.1:7005/pub")).replicas()
    assert [replica.name for replica in replicas[(name, "1.0.0")]] == [kept.name]
