"""Fixtures for the dashboard tests: the real lifecycle (or, for the few tests that ask for `fake`, the fake
one; see tests/dashboard/backends.py) and the dashboard in-process."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from api.dashboard import create_app
from api.settings import Settings
from tests.dashboard.backends import ADMIN, FakeBackend, RealBackend
from tests.dashboard.fake_lifecycle import FakeLifecycle

__all__ = ["ADMIN", "LIFECYCLE_URL", "PUB_URL", "csrf_of", "login", "make_client"]

LIFECYCLE_URL = "http://lifecycle.test/lifecycle"
PUB_URL = "http://pub.test/pub"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RACETRACK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "dashboard-data",
        auth_key="dashboard-test-signing-key-of-at-least-32-bytes",
        lifecycle_url=LIFECYCLE_URL,
        pub_url=PUB_URL,
    )


@pytest.fixture
def lifecycle(request: pytest.FixtureRequest, tmp_path) -> FakeBackend | RealBackend:
    """The real lifecycle; the fake one only for tests that ask for the `fake` fixture."""
    kind = getattr(request, "param", None) or ("fake" if "fake" in request.fixturenames else "real")
    if kind == "real":
        return RealBackend(tmp_path / "lifecycle-data")
    return FakeBackend()


@pytest.fixture
def fake(lifecycle) -> FakeLifecycle:
    """The fake lifecycle's state, for tests that set up jobs and history directly."""
    assert isinstance(lifecycle, FakeBackend), "this test needs the fake lifecycle"
    return lifecycle.fake


def make_client(settings: Settings, lifecycle: FakeBackend | RealBackend) -> TestClient:
    app = create_app(settings, transport=lifecycle.transport())
    return TestClient(app, base_url="http://127.0.0.1:7003")


@pytest.fixture
def client(settings: Settings, lifecycle) -> Iterator[TestClient]:
    with make_client(settings, lifecycle) as test_client:
        yield test_client


def csrf_of(client: TestClient, path: str = "/dashboard/login") -> str:
    """The CSRF token a form on `path` carries for this client's browser."""
    response = client.get(path)
    match = _CSRF.search(response.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> httpx.Response:
    token = csrf_of(client)
    return client.post(
        "/dashboard/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


@pytest.fixture
def staff_client(client: TestClient) -> TestClient:
    assert login(client, *ADMIN).status_code == 303
    return client


@pytest.fixture
def user_client(client: TestClient, lifecycle) -> TestClient:
    lifecycle.add_user("alice@example.com", "alice-password-1", active=True)
    assert login(client, "alice@example.com", "alice-password-1").status_code == 303
    return client
