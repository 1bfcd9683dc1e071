"""The platform the browser test walks through, behind one small interface.

`FakeStack` serves the fake lifecycle, pub (the real `api.pub` when it is on the branch, else the fake
in fake_job.py), a fake adder job and the real dashboard, each on its own port of 127.0.0.1 (uvicorn
in threads), so the browser sees the same URLs and cookies as with the real processes. Once
`api.lifecycle`, pub and the deploy engine run together, a `RealStack` with the same attributes and
methods (start `python -m api.run` on free ports, deploy the adder sample twice through
`POST /deploy`) replaces it in the `stack` fixture; the test itself does not change.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvicorn

from api.dashboard import create_app
from api.settings import Settings
from tests.dashboard.fake_job import create_fake_job, create_fake_pub
from tests.dashboard.fake_lifecycle import FakeLifecycle

INTERNAL_TOKEN = "pub-internal-token-for-the-browser-test"


def real_pub_available() -> bool:
    return importlib.util.find_spec("api.pub") is not None


def create_pub(lifecycle_url: str) -> Any:
    """The real pub when this branch has it, else the fake; both ask `lifecycle_url` per call."""
    if real_pub_available():
        from api.pub import PubConfig
        from api.pub import create_app as create_real_pub

        return create_real_pub(PubConfig(lifecycle_url=lifecycle_url, internal_token=INTERNAL_TOKEN))
    return create_fake_pub(lifecycle_url, INTERNAL_TOKEN)


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


@dataclass
class _Served:
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: Any, port: int) -> _Served:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    return _Served(server, thread)


@dataclass
class FakeStack:
    data_dir: Path
    admin: tuple[str, str] = ("admin", "admin-password-1")
    fake: FakeLifecycle = field(init=False)
    _served: list[_Served] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        lifecycle_port, pub_port, dashboard_port, job_port = (_free_port() for _ in range(4))
        self.lifecycle_url = f"http://127.0.0.1:{lifecycle_port}/lifecycle"
        self.pub_url = f"http://127.0.0.1:{pub_port}/pub"
        self.dashboard_url = f"http://127.0.0.1:{dashboard_port}/dashboard"
        self.fake = FakeLifecycle(
            admin_username=self.admin[0],
            admin_password=self.admin[1],
            pub_url=self.pub_url,
            job_address=f"127.0.0.1:{job_port}",
            internal_token=INTERNAL_TOKEN,
        )
        settings = Settings(
            data_dir=self.data_dir,
            auth_key="browser-test-signing-key-of-at-least-32-bytes",
            lifecycle_url=self.lifecycle_url,
            pub_url=self.pub_url,
            dashboard_port=dashboard_port,
        )
        self.pub_kind = "real" if real_pub_available() else "fake"
        self._served.append(serve(self.fake.app, lifecycle_port))
        self._served.append(serve(create_fake_job(), job_port))
        self._served.append(serve(create_pub(self.lifecycle_url), pub_port))
        self._served.append(serve(create_app(settings), dashboard_port))

    def deploy_job(self, name: str, version: str, *, as_user: str) -> None:
        self.fake.deploy_job(name, version, by=as_user)

    def token_works(self, token: str) -> bool:
        answer = httpx.get(
            f"{self.lifecycle_url}/api/v1/users/validate_user_auth", headers={"X-Racetrack-Auth": token}
        )
        return answer.status_code == 200

    def close(self) -> None:
        for served in reversed(self._served):
            served.server.should_exit = True
        for served in self._served:
            served.thread.join(timeout=10)


SAMPLES = Path(__file__).resolve().parents[2] / "sample"


class RealStack:
    """The real platform: lifecycle with its deploy engine, pub and the dashboard as processes, jobs on Docker.

    `deploy_job` deploys the adder sample (or the chain sample for a name starting with "chain") under
    the given name and version through `POST /deploy` and waits until it serves.
    """

    admin = ("admin", "admin-password-for-the-browser-test")

    def __init__(self, data_dir: Path) -> None:
        import os
        import subprocess
        import sys

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
        }
        self._log = (data_dir / "platform.log").open("ab")
        self._processes = [
            subprocess.Popen([sys.executable, "-m", module], env=env, stdout=self._log, stderr=subprocess.STDOUT)
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
        login = httpx.post(f"{self.lifecycle_url}/api/v1/users/login",
                           json={"username": self.admin[0], "password": self.admin[1]})
        login.raise_for_status()
        self._admin_token = login.json()["token"]

    def deploy_job(self, name: str, version: str, *, as_user: str) -> None:
        import yaml

        from jobtypes.source import pack_directory

        folder = SAMPLES / ("python-chain" if name.startswith("chain") else "python-class")
        manifest = yaml.safe_load((folder / "job.yaml").read_text())
        manifest.update(name=name, version=version, owner_email=as_user)
        headers = {"X-Racetrack-Auth": self._admin_token}
        answer = httpx.post(f"{self.lifecycle_url}/api/v1/deploy", headers=headers, timeout=30,
                            json={"manifest": manifest, "build_context": pack_directory(folder)})
        answer.raise_for_status()
        self.families.add(name)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            body = httpx.get(f"{self.lifecycle_url}/api/v1/deploy/{answer.json()['id']}", headers=headers).json()
            if body["status"] == "done":
                return
            if body["status"] == "failed":
                raise RuntimeError(f"deploying {name} {version} failed: {body['error']}")
            time.sleep(0.5)
        raise RuntimeError(f"deploying {name} {version} did not end within 600 s")

    def token_works(self, token: str) -> bool:
        answer = httpx.get(f"{self.lifecycle_url}/api/v1/users/validate_user_auth", headers={"X-Racetrack-Auth": token})
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
            for container in client.containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}):
                container.remove(force=True)
