"""Password guessing, mass registration, huge passwords and huge bodies against the real lifecycle over
HTTP, with the default limits a user gets. Client addresses are varied the way a proxy in front of the
lifecycle reports them (X-Forwarded-For from 127.0.0.1, which uvicorn trusts by default)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, extract_parameters

from api.auth import passwords
from tests.api.conftest import Api, World


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _login(api: Api, username: str, password: str, address: str = "203.0.113.1"):
    return api.post("/users/login", json={"username": username, "password": password}, headers=_from(address))


@pytest.mark.parametrize("username", ["alice@example.com", "nobody@example.com"])
def test_guessing_one_accounts_password_from_many_addresses_is_stopped(
    live_api: Api, world: World, username: str
) -> None:
    world.user("alice@example.com", password="alice-password-1")
    for attempt in range(10):  # the default: 10 failures per 15 minutes
        response = _login(live_api, username, f"guess-{attempt}-x", address=f"198.51.100.{attempt}")
        assert response.status_code == 401, response.text
    refused = _login(live_api, username, "alice-password-1", address="198.51.100.200")
    assert refused.status_code == 429
    assert refused.json()["error"].startswith(
        "too many failed logins for this account (at most 10 per 15 minutes)"
    )
    assert refused.json()["type"] == "TooManyRequests"
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # an existing and an unknown name are refused alike: the answer does not tell which names exist
    other = _login(live_api, "carol@example.com", "whatever-1", address="198.51.100.201")
    assert other.status_code == 401


def test_one_address_trying_many_accounts_is_stopped(live_api: Api, world: World) -> None:
    world.user("alice@example.com", password="alice-password-1")
    for attempt in range(30):  # the default: 30 attempts per minute and address
        assert _login(live_api, f"user{attempt}@example.com", "a-guess-1-x").status_code == 401
    refused = _login(live_api, "alice@example.com", "alice-password-1")
    assert refused.status_code == 429 and "login attempts from your address" in refused.json()["error"]
    assert (
        _login(live_api, "alice@example.com", "alice-password-1", address="203.0.113.99").status_code == 200
    )


def test_mass_registration_from_one_address_is_stopped(live_api: Api) -> None:
    for n in range(10):  # the default: 10 per hour and address
        response = live_api.post(
            "/users/register",
            json={"username": f"bot{n}@example.com", "password": "a-good-password-1"},
            headers=_from("203.0.113.7"),
        )
        assert response.status_code == 201, response.text
    refused = live_api.post(
        "/users/register",
        json={"username": "bot-extra@example.com", "password": "a-good-password-1"},
        headers=_from("203.0.113.7"),
    )
    assert refused.status_code == 429 and "registrations from your address" in refused.json()["error"]


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hashes each password verification was made against, in order."""
    seen: list[str] = []
    current = passwords._hasher

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            seen.append(str(hash))
            return super().verify(hash, password)

    counting = CountingHasher(
        time_cost=current.time_cost,
        memory_cost=current.memory_cost,
        parallelism=current.parallelism,
        hash_len=current.hash_len,
        salt_len=current.salt_len,
        type=current.type,
    )
    monkeypatch.setattr(passwords, "_hasher", counting)
    yield seen


def test_a_huge_password_is_refused_before_any_hashing(
    live_api: Api, world: World, verifications: list[str]
) -> None:
    world.user("alice@example.com", password="alice-password-1")
    for path in ("/users/login", "/users/register"):
        response = live_api.post(path, json={"username": "alice@example.com", "password": "x" * 100_000})
        assert response.status_code == 422, response.text
        assert "password" in response.json()["error"]
    assert verifications == []


def test_unknown_and_known_names_cost_one_verification_of_the_same_cost(
    live_api: Api, world: World, verifications: list[str]
) -> None:
    world.user("alice@example.com", password="alice-password-1")
    unknown = _login(live_api, "nobody@example.com", "wrong-password-1")
    known = _login(live_api, "alice@example.com", "wrong-password-1")
    assert unknown.status_code == known.status_code == 401 and unknown.json() == known.json()
    assert len(verifications) == 2
    dummy, real = (extract_parameters(h) for h in verifications)
    assert dummy == real  # same algorithm, time, memory and parallelism: the same work


def test_bodies_over_the_limit_get_a_clear_413(live_api: Api, world: World) -> None:
    admin = world.admin_token()
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = live_api.post("/escs", admin, content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json() == {
        "error": "request body too large: this route accepts at most 1 MiB (1048576 bytes)",
        "type": "InvalidInput",
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server has to count
        yield b'{"username": "x@example.com", "password": "'
        for _ in range(64):
            yield b"y" * 32768
        yield b'"}'

    streamed = live_api.post("/users/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["type"] == "InvalidInput"
    # a deploy carrying the job's folder may be larger (RACETRACK_MAX_DEPLOY_BODY, 128 MiB by default)
    folder = live_api.post(
        "/deploy",
        admin,
        json={"manifest": {"name": "x"}, "build_context": "A" * (2 * 1024 * 1024)},
    )
    assert folder.status_code == 400, folder.text  # judged on its manifest, not refused for its size


def test_dashboard_logins_are_counted_per_browser_address(live_api: Api, world: World, tmp_path) -> None:
    """The dashboard logs in through the lifecycle from its own address; it passes each browser's, so one
    browser guessing passwords does not lock everyone out of the dashboard."""
    import re

    import httpx

    from api.dashboard.app import create_app as create_dashboard
    from api.settings import Settings
    from tests.pub.servers import ServerThread

    world.user("alice@example.com", password="alice-password-1")
    lifecycle_url = str(live_api.client.base_url).rstrip("/") + "/lifecycle"
    settings = Settings(data_dir=tmp_path / "dashboard", lifecycle_url=lifecycle_url)
    dashboard = ServerThread(create_dashboard(settings)).start()
    try:

        def login_from(address: str, username: str, password: str) -> httpx.Response:
            with httpx.Client(base_url=dashboard.url, trust_env=False, timeout=30) as browser:
                page = browser.get("/dashboard/login", headers=_from(address)).text
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
                assert csrf, page
                return browser.post(
                    "/dashboard/login",
                    data={"username": username, "password": password, "csrf_token": csrf.group(1)},
                    headers=_from(address),
                )

        for n in range(30):
            assert login_from("198.51.100.66", f"guess{n}@example.com", "wrong-pass-1").status_code == 401
        assert login_from("198.51.100.66", "alice@example.com", "alice-password-1").status_code == 429
        assert login_from("203.0.113.5", "alice@example.com", "alice-password-1").status_code == 303
    finally:
        dashboard.stop()


def test_guessing_the_old_password_with_a_stolen_token_is_stopped(live_api: Api, world: World) -> None:
    token = world.user("alice@example.com", password="alice-password-1")
    for n in range(10):
        wrong = {"old_password": f"guess-{n}-xx", "new_password": "new-password-22"}
        assert live_api.put("/users/change_password", token, json=wrong).status_code == 401
    right = {"old_password": "alice-password-1", "new_password": "new-password-22"}
    refused = live_api.put("/users/change_password", token, json=right)
    assert refused.status_code == 429 and "failed logins for this account" in refused.json()["error"]
