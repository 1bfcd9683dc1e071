"""The stack runner's worker processes do not outlive a lifecycle that dies without shutting down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]

# A lifecycle stand-in: a StackRunner whose pool has run one task, then waits to be killed.
PARENT = """
import os, time
from stacks.engine import EngineConfig
from stacks.runner import StackRunner
runner = StackRunner(EngineConfig.__new__(EngineConfig), max_parallel=2)
print(runner._pool.submit(os.getpid).result(), flush=True)
time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    """Children of every thread of pid (the pool starts replacements from its manager thread)."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie has exited; only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_idle_workers_exit_when_the_lifecycle_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        used = int(parent.stdout.readline())  # one task ran; its worker exits and the pool starts an idle one
        deadline = time.monotonic() + 15
        while not (
            workers := [p for p in _children(parent.pid) if p != used and "spawn_main" in _cmdline(p)]
        ):
            assert time.monotonic() < deadline, "the pool never started an idle worker"
            time.sleep(0.1)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    alive = [pid for pid in workers if _alive(pid)]
    assert not alive, f"worker processes {alive} outlived their lifecycle"
