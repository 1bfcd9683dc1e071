"""The lifecycle behind the in-process dashboard: the fake, or the real `api.lifecycle` app once present.

Both offer what the tests need to set the scene through the lifecycle's own API (add a user, learn
a user's token, create an ESC) and record every call the dashboard made (`calls`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from api.settings import Settings
from tests.dashboard.fake_lifecycle import FakeLifecycle

ADMIN = ("admin", "admin-password-1")
API = "/lifecycle/api/v1"


def real_lifecycle_available() -> bool:
    return importlib.util.find_spec("api.lifecycle") is not None


class RecordingTransport(httpx.AsyncBaseTransport):
    """An in-process transport to an ASGI app that notes `METHOD /path` of each call."""

    def __init__(self, app: Any, calls: list[str]) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._calls.append(f"{request.method} {request.url.path.removeprefix(API)}")
        return await self._inner.handle_async_request(request)


class FakeBackend:
    kind = "fake"

    def __init__(self) -> None:
        self.fake = FakeLifecycle(admin_username=ADMIN[0], admin_password=ADMIN[1])
        self.app = self.fake.app
        self.calls: list[str] = []

    def transport(self) -> httpx.AsyncBaseTransport:
        return RecordingTransport(self.app, self.calls)

    def add_user(self, username: str, password: str, *, active: bool, staff: bool = False) -> None:
        self.fake.add_user(username, password, active=active, staff=staff)

    def token_of(self, username: str, password: str) -> str:
        return self.fake.token_of(username)

    def create_esc(self, name: str) -> str:
        esc_id = f"esc-{len(self.fake.state.escs) + 1}"
        self.fake.state.escs[esc_id] = {"id": esc_id, "name": name}
        self.fake.state.esc_tokens[esc_id] = []
        return esc_id


class RealBackend:
    """`api.lifecycle.create_app` on a SQLite database in the test's folder, without a deploy engine."""

    kind = "real"

    def __init__(self, data_dir: Path) -> None:
        from api.lifecycle import create_app  # only present once the lifecycle branch is merged

        settings = Settings(
            data_dir=data_dir,
            auth_key="dashboard-test-signing-key-of-at-least-32-bytes",
            admin_password=ADMIN[1],
        )
        self.app = create_app(settings)
        self.calls: list[str] = []
        self._http = TestClient(self.app, base_url="http://lifecycle.test")
        self._admin_token = self.token_of(*ADMIN)

    def transport(self) -> httpx.AsyncBaseTransport:
        return RecordingTransport(self.app, self.calls)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-Racetrack-Auth": self._admin_token} if hasattr(self, "_admin_token") else {}
        response = self._http.request(method, API + path, headers=headers, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def add_user(self, username: str, password: str, *, active: bool, staff: bool = False) -> None:
        self._call("POST", "/users/register", json={"username": username, "password": password})
        if active or staff:
            self._call("PATCH", f"/users/{username}", json={"is_active": active, "is_staff": staff})

    def token_of(self, username: str, password: str) -> str:
        response = self._http.post(f"{API}/users/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        self._http.cookies.clear()
        return str(response.json()["token"])

    def create_esc(self, name: str) -> str:
        return str(self._call("POST", "/escs", json={"name": name})["id"])

    def deploy(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """`POST /deploy` as the admin; without a deploy engine the lifecycle fails it at once."""
        return dict(self._call("POST", "/deploy", json={"manifest": manifest}))
