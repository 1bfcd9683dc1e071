"""The platform the browser test walks through: the real lifecycle (with its deploy engine), pub and
dashboard as processes on free ports of 127.0.0.1, jobs on the local Docker engine."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Protocol

import httpx


class Stack(Protocol):
    dashboard_url: str  # http://127.0.0.1:<port>/dashboard
    lifecycle_url: str  # http://127.0.0.1:<port>/lifecycle
    pub_url: str  # http://127.0.0.1:<port>/pub
    admin: tuple[str, str]  # a staff user's username and password

    def deploy_job(self, name: str, version: str, *, as_user: str) -> None:
        """Deploys a job (the adder sample: perform(numbers) -> sum) on behalf of `as_user`."""

    def token_works(self, token: str) -> bool:
        """Whether the lifecycle accepts `token` (GET /users/validate_user_auth)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SAMPLES = Path(__file__).resolve().parents[2] / "sample"


class RealStack:
    """The real platform: lifecycle with its deploy engine, pub and the dashboard as processes, jobs on
    Docker.

    `deploy_job` deploys the adder sample (or the chain sample for a name starting with "chain") under
    the given name and version through `POST /deploy` and waits until it serves.
    """

    admin = ("admin", "admin-password-for-the-browser-test")

    def __init__(self, data_dir: Path) -> None:
        import os
        import subprocess
        import sys

        from tests.pub.servers import gateway_binary

        data_dir.mkdir(parents=True, exist_ok=True)
        lifecycle_port, pub_port, dashboard_port = (_free_port() for _ in range(3))
        self.lifecycle_url = f"http://127.0.0.1:{lifecycle_port}/lifecycle"
        self.pub_url = f"http://127.0.0.1:{pub_port}/pub"
        self.dashboard_url = f"http://127.0.0.1:{dashboard_port}/dashboard"
        env = {
            **os.environ,
            "RACETRACK_DATA_DIR": str(data_dir),
            "RACETRACK_LIFECYCLE_PORT": str(lifecycle_port),
            "RACETRACK_PUB_PORT": str(pub_port),
            "RACETRACK_DASHBOARD_PORT": str(dashboard_port),
            "RACETRACK_ADMIN_PASSWORD": self.admin[1],
            "RACETRACK_LIFECYCLE_URL": self.lifecycle_url,
            "RACETRACK_PUB_URL": self.pub_url,
            "RACETRACK_DASHBOARD_URL": self.dashboard_url,
            "RACETRACK_PUB_AUTH_CACHE_TTL": "1",
            "RACETRACK_PUB_BINARY": gateway_binary(),  # built from this checkout
        }
        self._log = (data_dir / "platform.log").open("ab")
        self._processes = [
            subprocess.Popen(
                [sys.executable, "-m", module], env=env, stdout=self._log, stderr=subprocess.STDOUT
            )
            for module in ("api.lifecycle", "api.pub", "api.dashboard")
        ]
        self.families: set[str] = set()
        deadline = time.monotonic() + 180
        for url in (f"{self.lifecycle_url}/live", f"{self.pub_url}/live", f"{self.dashboard_url}/login"):
            while True:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"{url} did not answer within 180 s")
                time.sleep(0.3)
        login = httpx.post(
            f"{self.lifecycle_url}/api/v1/users/login",
            json={"username": self.admin[0], "password": self.admin[1]},
        )
        login.raise_for_status()
        self._admin_token = login.json()["token"]

    def deploy_job(self, name: str, version: str, *, as_user: str) -> None:
        import yaml

        from jobtypes.source import pack_directory

        folder = SAMPLES / ("python-chain" if name.startswith("chain") else "python-class")
        manifest = yaml.safe_load((folder / "job.yaml").read_text())
        manifest.update(name=name, version=version, owner_email=as_user)
        headers = {"X-Racetrack-Auth": self._admin_token}
        answer = httpx.post(
            f"{self.lifecycle_url}/api/v1/deploy",
            headers=headers,
            timeout=30,
            json={"manifest": manifest, "build_context": pack_directory(folder)},
        )
        answer.raise_for_status()
        self.families.add(name)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            body = httpx.get(
                f"{self.lifecycle_url}/api/v1/deploy/{answer.json()['id']}", headers=headers
            ).json()
            if body["status"] == "done":
                self._grant_family(as_user, name)
                return
            if body["status"] == "failed":
                raise RuntimeError(f"deploying {name} {version} failed: {body['error']}")
            time.sleep(0.5)
        raise RuntimeError(f"deploying {name} {version} did not end within 600 s")

    def _grant_family(self, username: str, family: str) -> None:
        """The admin deployed the family, so it is the admin's: `username` may deploy it once granted."""
        answer = httpx.post(
            f"{self.lifecycle_url}/api/v1/auth/permissions",
            headers={"X-Racetrack-Auth": self._admin_token},
            json={
                "subject_kind": "user",
                "subject_name": username,
                "scope": "deploy_job",
                "job_family": family,
            },
        )
        answer.raise_for_status()

    def token_works(self, token: str) -> bool:
        answer = httpx.get(
            f"{self.lifecycle_url}/api/v1/users/validate_user_auth", headers={"X-Racetrack-Auth": token}
        )
        return answer.status_code == 200

    def close(self) -> None:
        import docker

        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=20)
            except Exception:  # noqa: BLE001 - a stuck process is killed instead
                process.kill()
        self._log.close()
        client = docker.from_env()
        for family in self.families:
            for container in client.containers.list(
                all=True, filters={"label": f"racetrack/job-name={family}"}
            ):
                container.remove(force=True)
