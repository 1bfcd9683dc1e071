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
