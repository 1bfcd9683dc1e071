"""Following a job's logs as its replicas write them: one stream per replica, their lines merged."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["MergedLogFollower"]


class MergedLogFollower:
    """Iterates the lines of `streams` (replica name, an iterable of byte chunks with `close()`), each
    prefixed with its replica when there are several; `close()` from another thread ends it."""

    def __init__(self, streams: list[tuple[str, Any]]) -> None:
        self._streams = streams
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
            except Exception:  # noqa: BLE001 - a stream closed under its reader ends that replica's lines
                pass
            finally:
                with ready:
                    running -= 1
                    ready.notify()

        for replica, stream in self._streams:
            threading.Thread(target=read, args=(replica, stream), daemon=True, name="logs").start()
        while True:
            with ready:
                ready.wait_for(lambda: bool(lines) or not running)
                batch, lines[:] = list(lines), []
                done = not running
            yield from batch
            if done and not batch:
                return

    def close(self) -> None:
        for _, stream in self._streams:
            # A blocked read is woken only by shutting the connection (urllib3's streams), not by close.
            with contextlib.suppress(Exception):
                stream.shutdown()
            with contextlib.suppress(Exception):
                stream.close()


def _lines(stream: Iterable[bytes]) -> Iterator[str]:
    pending = ""
    for chunk in stream:
        pending += chunk.decode("utf-8", "replace")
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending
