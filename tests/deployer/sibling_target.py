"""A second infrastructure target for tests that move jobs: the local Docker engine again, under its
own names, installed the way a plugin target is (an entry point of a distribution on the path).

    site = install_sibling_target(tmp_path)   # then start the lifecycle with PYTHONPATH=site
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from stacks.docker.target import DockerTarget
from stacks.target import ENTRY_POINT_GROUP, TargetConfig

__all__ = ["NAME", "PREFIX", "SiblingDockerTarget", "install_sibling_target"]

NAME = "docker-sibling"
PREFIX = "sib-"


class SiblingDockerTarget(DockerTarget):
    """Containers named `sib-job-...` on networks `racetrack-sib-job-<family>`."""

    name = NAME
    aliases: tuple[str, ...] = ()

    def __init__(self, config: TargetConfig) -> None:
        super().__init__(
            dataclasses.replace(config, options={"network": "racetrack-sib", "name_prefix": PREFIX})
        )


def install_sibling_target(folder: Path) -> Path:
    """A site folder holding the distribution that declares this target; put it on PYTHONPATH."""
    dist = folder / "racetrack_sibling_target-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: racetrack-sibling-target\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{NAME} = {__name__}:SiblingDockerTarget\n"
    )
    return folder
