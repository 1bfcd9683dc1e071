"""Cross-site request forgery against the lifecycle: its login cookie does not make another site's
form (or a job's page) act as the user.

A browser sends the cookie `POST /users/login` set with every request to the lifecycle's host, also
those another site starts. So a cookie authenticates an unsafe method only from the lifecycle's own
pages (a matching `Origin`, or an `X-Requested-With` header no other site may send); the token in
`X-Racetrack-Auth` works from anywhere, as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.lifecycle import create_app
from api.settings import Settings
from tests.api.conftest import ADMIN_PASSWORD, API, World

GRANT = f"{API}/auth/allow/job_family/evil/job/victim/scope/full_access"


@pytest.fixture
def browser(app: FastAPI, world: World) -> Iterator[TestClient]:
    """A browser logged in as the admin through the lifecycle's login: it holds the login cookie."""
    world.family_token("evil")
    world.family_token("victim")
    with TestClient(app, base_url="http://127.0.0.1:7002") as client:
        answer = client.post(f"{API}/users/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200 and "X-Racetrack-Auth" in client.cookies
        yield client


def test_a_cross_site_form_post_with_the_login_cookie_is_refused(browser: TestClient) -> None:
    # What <form method=post action=".../allow/job_family/evil/job/victim/scope/full_access"> on
    # another site (or on a job's page) makes the browser send: the cookie, a foreign Origin, a form body.
    forged = browser.post(
        GRANT,
        headers={"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        content=b"x=1",
    )
    assert forged.status_code == 403, forged.text
    assert "X-Racetrack-Auth" in forged.json()["error"]
    # A job's own host on the same machine is another origin as well.
    from_job = browser.post(GRANT, headers={"Origin": "http://evil.jobs.localhost:7005"})
    assert from_job.status_code == 403
    # No Origin at all (an old browser, a non-browser client with a cookie jar): refused too.
    assert browser.post(GRANT).status_code == 403
    assert browser.delete(f"{API}/job/victim/1.0.0").status_code == 403
    assert not any(p["job_family"] == "victim" for p in browser.get(f"{API}/auth/permissions").json())


def test_the_cookie_still_works_from_the_lifecycles_own_pages_and_for_reading(browser: TestClient) -> None:
    assert browser.get(f"{API}/users/validate_user_auth").json()["username"] == "admin"
    own = browser.post(GRANT, headers={"Origin": "http://127.0.0.1:7002"})
    assert own.status_code == 201, own.text
    scripted = browser.post(GRANT.replace("victim", "evil"), headers={"X-Requested-With": "fetch"})
    assert scripted.status_code == 201, scripted.text


def test_the_header_token_works_from_anywhere(browser: TestClient, world: World) -> None:
    answer = browser.post(
        GRANT, headers={"Origin": "http://evil.example", "X-Racetrack-Auth": world.admin_token()}
    )
    assert answer.status_code == 201, answer.text


def test_the_login_cookie_is_a_host_cookie_when_served_over_https(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"lifecycle_url": "https://racetrack.example.com/lifecycle"}))
    try:
        with TestClient(app, base_url="https://racetrack.example.com") as client:
            answer = client.post(f"{API}/users/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("__Host-X-Racetrack-Auth=")
            assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
            assert client.get(f"{API}/users/validate_user_auth").json()["username"] == "admin"
            # The bare name (planted by a sibling host, say) is not read over HTTPS.
            client.cookies.clear()
            client.cookies.set("X-Racetrack-Auth", answer.json()["token"])
            assert client.get(f"{API}/users/validate_user_auth").status_code == 401
    finally:
        app.state.db_engine.dispose()
