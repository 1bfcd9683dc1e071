"""A deactivated user or a revoked token stops getting through pub within its cache time, and stays
refused while the lifecycle is down; what pub had cached for everyone else keeps serving.

The real lifecycle (SQLite, uvicorn), the real gateway binary with the settings a user gets by
default (an allowing answer reused for 10 s, up to 600 s while the lifecycle cannot be reached).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from api.auth import passwords as password_module
from api.lifecycle import create_app as create_lifecycle
from api.pub import PubConfig
from api.settings import Settings
from tests.api.conftest import World

from .jobs import JobWorld
from .servers import GatewayServer, ServerThread

PERFORM = "/pub/job/adder/1.0.0/api/v1/perform"
ECHO = "/pub/job/adder/1.0.0/echo/x"


@dataclass
class Site:
    settings: Settings
    lifecycle: ServerThread
    pub: GatewayServer
    admin: str
    alice: str
    bob: str
    carol: str

    @property
    def api(self) -> str:
        return f"{self.lifecycle.url}/lifecycle/api/v1"


@pytest.fixture
def site(tmp_path, monkeypatch) -> Iterator[Site]:
    monkeypatch.setattr(password_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=f"sqlite:///{tmp_path / 'racetrack.db'}",
        admin_password=SecretStr("admin-password-for-tests"),
    )
    app = create_lifecycle(settings)
    lifecycle = ServerThread(app).start()
    jobs = JobWorld()
    job_server = ServerThread(jobs.app()).start()
    world = World(app)
    world.job("adder", "1.0.0", internal_name=job_server.address)
    tokens = {name: world.user(f"{name}@example.com") for name in ("alice", "bob", "carol")}
    settings = settings.model_copy(update={"lifecycle_url": f"{lifecycle.url}/lifecycle"})
    pub = GatewayServer(PubConfig.from_settings(settings))  # pub's defaults, as a user gets them
    try:
        yield Site(
            settings, lifecycle, pub, world.admin_token(), tokens["alice"], tokens["bob"], tokens["carol"]
        )
    finally:
        pub.stop()
        job_server.stop()
        lifecycle.stop()
        app.state.db_engine.dispose()


def call(site: Site, path: str, token: str) -> httpx.Response:
    body = {"numbers": [1, 2]} if path == PERFORM else None
    method = "POST" if path == PERFORM else "GET"
    return httpx.request(
        method,
        f"{site.pub.url}{path}",
        json=body,
        headers={"X-Racetrack-Auth": token},
        trust_env=False,
        timeout=15,
    )


def refused_within_the_cache_time(site: Site, token: str) -> httpx.Response:
    """Calls until pub refuses the token; fails when it still lets it through after its cache time."""
    deadline = time.monotonic() + site.settings.pub_auth_cache_ttl + 5
    while True:
        answer = call(site, PERFORM, token)
        if answer.status_code == 401:
            return answer
        assert answer.status_code == 200, answer.text
        assert time.monotonic() < deadline, "still let through after pub's cache time"
        time.sleep(0.2)


def test_deactivated_users_and_revoked_tokens_stop_and_stay_stopped_while_the_lifecycle_is_down(
    site: Site,
) -> None:
    for token in (site.alice, site.bob, site.carol):
        for path in (PERFORM, ECHO):
            assert call(site, path, token).status_code == 200  # now cached by pub, both paths
    admin = {"X-Racetrack-Auth": site.admin}

    deactivated = httpx.patch(f"{site.api}/users/alice@example.com", json={"is_active": False}, headers=admin)
    assert deactivated.status_code == 200, deactivated.text
    answer = refused_within_the_cache_time(site, site.alice)
    assert "inactive" in answer.json()["error"]

    regenerated = httpx.post(f"{site.api}/users/bob@example.com/token/regenerate", headers=admin)
    assert regenerated.status_code == 200, regenerated.text
    answer = refused_within_the_cache_time(site, site.bob)
    assert "revoked" in answer.json()["error"]

    site.lifecycle.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{site.lifecycle.url}/live", trust_env=False, timeout=2)

    # What pub cached for carol stands in while the lifecycle is away ...
    assert call(site, ECHO, site.carol).status_code == 200
    # ... but nothing it had cached for alice or bob before they were refused: not the path they
    # were refused on, not the other one.
    for token, reason in ((site.alice, "inactive"), (site.bob, "revoked")):
        for path in (ECHO, PERFORM):
            answer = call(site, path, token)
            assert answer.status_code == 401, (path, answer.status_code, answer.text)
            assert reason in answer.json()["error"]
