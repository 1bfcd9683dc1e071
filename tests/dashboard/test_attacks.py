"""Attacks on the dashboard by a hostile tenant: forged staff forms and a planted CSRF cookie, with the
real lifecycle (api.lifecycle on SQLite) behind the dashboard."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from api.dashboard import create_app
from tests.dashboard.backends import ADMIN, RealBackend
from tests.dashboard.conftest import csrf_of, login

MALLORY = ("mallory@example.com", "mallory-password-1")


@pytest.fixture
def real(tmp_path) -> RealBackend:
    backend = RealBackend(tmp_path / "lifecycle-data")
    backend.add_user(*MALLORY, active=True)
    backend.add_user("friend@example.com", "friend-password-1", active=False)
    return backend


@pytest.fixture
def browsers(settings, real) -> Iterator[tuple[TestClient, TestClient]]:
    """The staff member's browser and the attacker's, both on the same dashboard."""
    app = create_app(settings, transport=real.transport())
    with (
        TestClient(app, base_url="http://127.0.0.1:7003") as staff,
        TestClient(app, base_url="http://127.0.0.1:7003") as attacker,
    ):
        assert login(staff, *ADMIN).status_code == 303
        assert login(attacker, *MALLORY).status_code == 303
        yield staff, attacker


def _activations(real: RealBackend) -> list[str]:
    return [c for c in real.calls if c.startswith("PATCH /users/")]


def test_a_planted_csrf_cookie_with_the_attackers_own_token_does_not_forge_a_staff_form(
    real, browsers
) -> None:
    staff, attacker = browsers
    # The attacker's own pair: the secret in its cookie and the token its pages carry.
    token = csrf_of(attacker, "/dashboard/profile")
    secret = attacker.cookies.get("rt_csrf")
    assert secret and token
    # A page on a sibling host of the same site sets the cookie for the staff member's browser
    # (cookie tossing), then submits the form the attacker wants staff to send.
    staff.cookies.set("rt_csrf", secret, domain="127.0.0.1", path="/dashboard")
    forged = staff.post(
        "/dashboard/staff/users/friend@example.com",
        data={"action": "activate", "csrf_token": token},
        follow_redirects=False,
    )
    assert forged.status_code == 403, forged.text
    assert "CSRF token is not valid" in forged.text
    assert _activations(real) == []


def test_a_form_from_another_site_is_refused_even_with_a_valid_token(real, browsers) -> None:
    staff, _ = browsers
    token = csrf_of(staff, "/dashboard/staff/users")
    refused = staff.post(
        "/dashboard/staff/users/friend@example.com",
        data={"action": "activate", "csrf_token": token},
        headers={"Origin": "http://friend.jobs.localhost:7005"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "another site" in refused.text
    assert _activations(real) == []
    # The dashboard's own form, sent from its own page, still works.
    done = staff.post(
        "/dashboard/staff/users/friend@example.com",
        data={"action": "activate", "csrf_token": token},
        headers={"Origin": "http://127.0.0.1:7003"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert _activations(real) == ["PATCH /users/friend@example.com"]


def test_a_token_from_before_login_is_worthless_after_it(settings, real) -> None:
    app = create_app(settings, transport=real.transport())
    with TestClient(app, base_url="http://127.0.0.1:7003") as browser:
        before = csrf_of(browser)
        assert login(browser, *ADMIN).status_code == 303
        refused = browser.post(
            "/dashboard/staff/users/friend@example.com",
            data={"action": "activate", "csrf_token": before},
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert _activations(real) == []


def test_the_lifecycle_takes_no_dashboard_cookie(real, browsers) -> None:
    """The dashboard's session cookie reaches the lifecycle on the same host (any port; on Kubernetes
    the same origin): the lifecycle must not take it as a login, for reading or for writing."""
    staff, _ = browsers
    session = staff.cookies.get("rt_session")
    assert session
    with TestClient(real.app, base_url="http://127.0.0.1:7002") as lifecycle:
        lifecycle.cookies.set("rt_session", session)
        assert lifecycle.get("/lifecycle/api/v1/users/validate_user_auth").status_code == 401
        assert lifecycle.get("/lifecycle/api/v1/auth/token/user").status_code == 401
        answer = lifecycle.post(
            "/lifecycle/api/v1/escs", json={"name": "x"}, headers={"Origin": "http://127.0.0.1:7002"}
        )
        assert answer.status_code == 401


def test_cookies_are_host_cookies_when_the_dashboard_is_served_over_https(settings, real) -> None:
    settings = settings.model_copy(update={"dashboard_url": "https://racetrack.example.com/dashboard"})
    app = create_app(settings, transport=real.transport())
    with TestClient(app, base_url="https://racetrack.example.com") as browser:
        token = csrf_of(browser)
        answer = browser.post(
            "/dashboard/login",
            data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        set_cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in set_cookies if c.startswith("__Host-rt_session="))
        assert "Secure" in session and "Path=/;" in session and "Domain" not in session
        assert browser.get("/dashboard/profile").status_code == 200
        # Cookies without the prefix, as a sibling host could plant them, are not read.
        planted = httpx.Cookies()
        planted.set(
            "rt_session", browser.cookies.get("__Host-rt_session") or "", domain="racetrack.example.com"
        )
        browser.cookies.clear()
        browser.cookies.update(planted)
        assert browser.get("/dashboard/profile", follow_redirects=False).status_code == 303


def test_login_never_follows_next_out_of_the_dashboard(settings, real) -> None:
    """`next` is checked as a path of the dashboard: a dot-segment the browser would resolve must not
    lead it elsewhere on the host (a job's path form, the lifecycle) right after login."""
    app = create_app(settings, transport=real.transport())
    with TestClient(app, base_url="http://127.0.0.1:7003") as browser:
        for target in (
            "/dashboard/../pub/job/evil/1.0.0/page",
            "/dashboard/%2e%2e/lifecycle/api/v1/auth/token/user",
            "/dashboard/./../x",
            "/dashboardx/../../evil",
        ):
            browser.cookies.clear()
            data = {
                "username": ADMIN[0],
                "password": ADMIN[1],
                "csrf_token": csrf_of(browser),
                "next": target,
            }
            answer = browser.post("/dashboard/login", data=data, follow_redirects=False)
            assert answer.headers["location"] == "/dashboard/jobs", target
