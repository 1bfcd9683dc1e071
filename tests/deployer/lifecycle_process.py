"""A real lifecycle server (with its deploy engine) in its own process, for tests that kill and restart it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ADMIN_PASSWORD", "LifecycleProcess", "free_port", "remove_job_families"]

ADMIN_PASSWORD = "deployer-tests-admin-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LifecycleProcess:
    def __init__(
        self, data_dir: Path, *, port: int | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/lifecycle"
        self.env = {
            **os.environ,
            "RACETRACK_DATA_DIR": str(data_dir),
            "RACETRACK_LIFECYCLE_PORT": str(self.port),
            "RACETRACK_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.token: str | None = None
        self.log = data_dir / f"lifecycle-{self.port}.log"

    def start(self) -> LifecycleProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.lifecycle"],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180  # generous: imports are slow on a loaded 2-core machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"lifecycle exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"lifecycle did not start within 180 s: {self.log.read_text()[-3000:]}")
        login = httpx.post(
            f"{self.url}/api/v1/users/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        self.token = login.json()["token"]
        return self

    def kill(self) -> None:
        """Kills the server and its workers at once, as a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Racetrack-Auth": self.token or ""}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def wait_deployment(self, deployment_id: str, *, timeout: float = 900) -> dict:
        """Polls an operation until it ends (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.request("GET", f"/deploy/{deployment_id}").json()
            if body["status"] != "in_progress":
                return body
            time.sleep(0.5)
        raise AssertionError(f"deployment {deployment_id} still in progress after {timeout} s")


def remove_job_families(names: list[str]) -> None:
    """Removes the containers, images and networks that deploys of these job families left on the engine."""
    import contextlib

    import docker

    client = docker.from_env()
    for name in names:
        for container in client.containers.list(all=True, filters={"label": f"racetrack/job-name={name}"}):
            container.remove(force=True)
        # Images built by the deploy engine carry racetrack/job-name; those of jobtypes.build_images
        # carry racetrack.job-name.
        for label in ("racetrack/job-name", "racetrack.job-name"):
            for image in client.images.list(filters={"label": f"{label}={name}"}):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id, force=True)
        for network in client.networks.list(filters={"label": f"racetrack/job-name={name}"}):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
