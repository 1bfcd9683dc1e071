"""Following a job's logs on the Docker engine: every replica's container as Docker streams its output."""

from __future__ import annotations

from typing import Any

from stacks.logs import MergedLogFollower

__all__ = ["DockerLogFollower"]


class DockerLogFollower(MergedLogFollower):
    """Follows every replica container of a job on the Docker engine, as Docker streams their output."""

    def __init__(self, containers: list[Any], tail: int) -> None:
        def replica(container: Any) -> str:
            return str(container.labels.get("racetrack/replica", "0"))

        super().__init__(
            [
                (replica(c), c.logs(stream=True, follow=True, tail=tail if tail else "all"))
                for c in sorted(containers, key=lambda c: int(replica(c)) if replica(c).isdigit() else 0)
            ]
        )
