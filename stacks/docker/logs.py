"""Following a job's logs on the Docker engine: every replica's container as Docker streams its output."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["DockerLogFollower"]


class DockerLogFollower:
    """Follows every replica container of a job on the Docker engine, as Docker streams their output."""

    def __init__(self, containers: list[Any], tail: int) -> None:
        def replica(container: Any) -> str:
            return str(container.labels.get("racetrack/replica", "0"))

        self._streams = [
            (replica(c), c.logs(stream=True, follow=True, tail=tail if tail else "all"))
            for c in sorted(containers, key=lambda c: int(replica(c)) if replica(c).isdigit() else 0)
        ]
        self._named = len(self._streams) > 1

    def __iter__(self) -> Iterator[str]:
        if len(self._streams) == 1:
            yield from _lines(self._streams[0][1])
            return
        # Replicas write at their own pace: one thread each, their lines merged as they come.
        lines: list[str] = []
        ready = threading.Condition()
        running = len(self._streams)

        def read(replica: str, stream: Any) -> None:
            nonlocal running
            try:
                for line in _lines(stream):
                    with ready:
                        lines.append(f"[replica {replica}] {line}" if self._named else line)
                        ready.notify()
            finally:
                with ready:
                    running -= 1
                    ready.notify()

        for replica, stream in self._streams:
            threading.Thread(target=read, args=(replica, stream), daemon=True, name="logs").start()
        while True:
            with ready:
                ready.wait_for(lambda: lines or not running)
                batch, lines[:] = list(lines), []
                done = not running
            yield from batch
            if done and not batch:
                return

    def close(self) -> None:
        for _, stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()


def _lines(stream: Any) -> Iterator[str]:
    pending = ""
    for chunk in stream:
        pending += chunk.decode("utf-8", "replace")
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending
