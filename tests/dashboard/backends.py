"""The lifecycle behind the in-process dashboard: the real `api.lifecycle` app (SQLite, no deploy engine).

`RealBackend` sets the scene through the lifecycle's own API (add a user, learn a user's token, create an
ESC), or, for what only a deploy engine would write (jobs as a finished deploy leaves them), through the
lifecycle's own repository functions; it records every call the dashboard made (`calls`).

`FakeBackend` (tests/dashboard/fake_lifecycle.py) stays for two tests whose data only the deploy engine and
Pulumi write, which a real lifecycle without them cannot be made to show: a family's revision history with
its diffs and a rollback's plan (test_history_shows_diffs_and_rollback_previews_before_confirming), and a
job's runtime and build logs (test_job_runtime_and_build_logs). The browser test (test_browser.py) runs
them for real on the whole platform.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from api.auth import primary_token, subject_for_user
from api.auth.permissions import grant_deployer, grant_owner
from api.db import Deployment, Job, User, session_scope
from api.db.repository import ensure_family, upsert_job
from api.lifecycle import create_app
from api.settings import Settings
from tests.dashboard.fake_lifecycle import FakeLifecycle

ADMIN = ("admin", "admin-password-1")
API = "/lifecycle/api/v1"


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


class RealBackend:
    """`api.lifecycle.create_app` on a SQLite database in the test's folder, without a deploy engine."""

    kind = "real"

    def __init__(self, data_dir: Path) -> None:
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

    def deploy(self, manifest: dict[str, Any], as_user: tuple[str, str] = ADMIN) -> dict[str, Any]:
        """`POST /deploy` as `as_user` (username, password); without a deploy engine the lifecycle fails
        it at once."""
        token = self.token_of(*as_user)
        response = self._http.post(
            f"{API}/deploy", json={"manifest": manifest}, headers={"X-Racetrack-Auth": token}
        )
        assert response.status_code == 202, response.text
        return dict(response.json())

    def took(self, deployment_id: str, seconds: int) -> None:
        """Makes a deployment last `seconds`, as one the engine ran would."""
        with self._session() as session:
            deployment = session.get(Deployment, deployment_id)
            deployment.update_time = deployment.create_time + timedelta(seconds=seconds)

    def _session(self) -> Any:
        return session_scope(self.app.state.sessions)

    def job(
        self,
        name: str,
        version: str,
        *,
        by: str,
        owner: str = "owner@example.com",
        status: str = "running",
        **fields: Any,
    ) -> Job:
        """A job as a finished deploy by `by` leaves it (`owner` is the manifest's owner_email)."""
        manifest = (
            f"name: {name}\nversion: {version}\nowner_email: {owner}\njobtype: python3:3.11\n"
            f"git:\n  remote: https://example.com/{name}.git\n"
        )
        with self._session() as session:
            job = upsert_job(
                session,
                name=name,
                version=version,
                status=status,
                manifest=manifest,
                internal_name=f"{name}-{version}.internal:7000",
                deployed_by=by,
                infrastructure_target="docker",
                job_type_version="python3:3.11",
                **fields,
            )
            user = session.query(User).filter_by(username=by).one_or_none()
            if user is not None:  # as the engine grants a deployer, the first one owning the family
                grant_deployer(session, subject_for_user(session, user), job)
                grant_owner(session, subject_for_user(session, user), ensure_family(session, name))
            return job

    def primary_token(self, username: str) -> str:
        """The token a user's profile shows (the one `racetrack login` takes)."""
        with self._session() as session:
            user = session.query(User).filter_by(username=username).one()
            _, token = primary_token(
                session, subject_for_user(session, user), self.app.state.settings.signing_key()
            )
        return str(token)

    def user(self, username: str) -> dict[str, Any]:
        return next(u for u in self._call("GET", "/users") if u["username"] == username)

    def permissions(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/auth/permissions"))

    def escs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/escs"))

    def esc_tokens(self, esc_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/escs/{esc_id}/auth_data")["tokens"])

    def maintenance_mode(self) -> bool:
        return bool(self._call("GET", "/settings")["maintenance_mode"])

    def revoke_tokens(self, username: str) -> None:
        """What staff's "regenerate token" does to a user: every token they had stops working."""
        self._call("POST", f"/users/{username}/token/regenerate")
