"""`racetrack logs -f` against a real lifecycle, with a job of two replicas deployed on Docker by its engine.

Upstream's client (racetrack-client 2.35.1 from PyPI, in its own virtualenv) and ours each follow the job's
logs over Socket.IO; the job is then called, and the line it writes while they follow reaches both, named by
the replica that wrote it; deleting the job ends the stream, and our client with it. Upstream's client sends
no token of its own over Socket.IO: it authenticates through `~/.netrc`, which its HTTP library reads.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import httpx
import pytest

from tests.api.test_racetrack_client import racetrack_cli  # noqa: F401 - the upstream client's venv
from tests.deployer.conftest import SAMPLE, deploy_sample
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]
WAIT = 120  # seconds a line may take to arrive on a loaded 2-core machine


class Follower:
    """A `racetrack logs -f` process whose output lines are read as they come."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} did not arrive; the client printed: {self.seen}")

    def stop(self) -> int:
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _perform(lifecycle: LifecycleProcess, family: str, numbers: list[int]) -> None:
    job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    url = f"http://{job['internal_name']}/pub/job/{family}/1.0.0/api/v1/perform"
    assert httpx.post(url, json={"numbers": numbers}, timeout=30).json() == sum(numbers)


def test_both_clients_follow_the_logs_of_every_replica(
    lifecycle: LifecycleProcess,
    family: str,
    tmp_path: Path,
    racetrack_cli: Path,  # noqa: F811
) -> None:
    code = (SAMPLE / "adder.py").read_text()
    logged = 'print(f"adding {numbers}", flush=True)\n        return sum(numbers)'
    code = code.replace("return sum(numbers)", logged)
    deploy_sample(lifecycle, tmp_path / "job", family, code=code, replicas=2)
    _perform(lifecycle, family, [1, 1])  # a line already written when the clients start

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACK_")}
    upstream_home = tmp_path / "upstream-home"
    upstream_home.mkdir()
    upstream_env = {**base_env, "HOME": str(upstream_home)}
    login = subprocess.run(
        [str(racetrack_cli), "login", lifecycle.token, "--remote", lifecycle.url],
        env=upstream_env,
        capture_output=True,
        text=True,
    )
    assert login.returncode == 0, login.stdout + login.stderr
    netrc = upstream_home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login racetrack password {lifecycle.token}\n")
    netrc.chmod(0o600)

    ours_env = {
        **base_env,
        "HOME": str(tmp_path / "our-home"),
        "RACETRACK_CONFIG_DIR": str(tmp_path / "ours"),
    }
    ours_login = subprocess.run(
        [sys.executable, "-m", "client", "login", lifecycle.token, "--remote", lifecycle.url],
        env=ours_env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert ours_login.returncode == 0, ours_login.stdout + ours_login.stderr

    upstream = Follower([str(racetrack_cli), "logs", family, "-f", "--remote", lifecycle.url], upstream_env)
    ours = Follower(
        [sys.executable, "-m", "client", "logs", family, "-f", "--remote", lifecycle.url], ours_env
    )
    try:
        for follower in (upstream, ours):
            earlier = follower.wait_for("adding [1, 1]")  # the tail: the stream is open
            assert earlier.startswith("[replica "), earlier
        _perform(lifecycle, family, [7, 35])
        for follower in (upstream, ours):
            line = follower.wait_for("adding [7, 35]")
            assert line.startswith(("[replica 0] ", "[replica 1] ")), line
        assert upstream.stop() in (0, 1, -signal.SIGINT)  # Ctrl-C

        deleted = lifecycle.request("DELETE", f"/job/{family}/1.0.0")
        assert deleted.status_code in (200, 202), deleted.text
        operation = deleted.json()
        if operation.get("status") == "in_progress":
            operation = lifecycle.wait_deployment(operation["id"])
        assert operation["status"] == "done", operation
        assert not docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
        # The job's containers are gone: the stream ends and our client with it, saying so.
        ours.wait_for("the log stream ended: the job stopped, was replaced or was deleted")
        assert ours.process.wait(timeout=WAIT) == 0
    finally:
        upstream.stop()
        ours.stop()
