"""Every accepted token is recorded and revocable; user tokens expire; a password change revokes the old
tokens; staff who regenerate a user's token never see it (the real lifecycle over HTTP)."""

from __future__ import annotations

from datetime import timedelta

import jwt

from api.db import AuthToken, utcnow
from tests.api.conftest import ADMIN_PASSWORD, Api, World


def test_an_unrecorded_internal_jwt_is_refused(live_api: Api, world: World) -> None:
    world.job("adder", "1.0.0")
    # What upstream's `generate-auth` makes: signed with the platform key, with no row to revoke.
    forged = jwt.encode(
        {
            "seed": "not-recorded",
            "subject": "image-builder",
            "subject_type": "internal",
            "scopes": ["full_access"],
        },
        live_api.app.state.settings.signing_key(),
        algorithm="HS256",
    )
    for method, path in (("GET", "/users"), ("GET", "/escs"), ("DELETE", "/job/adder/1.0.0")):
        response = live_api.request(method, path, forged)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"] == "wrong credentials: token is unknown"
    no_seed = jwt.encode(
        {"subject": "pub", "subject_type": "internal"},
        live_api.app.state.settings.signing_key(),
        algorithm="HS256",
    )
    assert live_api.get("/users", no_seed).status_code == 401
    assert live_api.get("/job/adder/1.0.0", world.admin_token()).status_code == 200


def test_a_user_token_expires_after_its_lifetime(live_api: Api, world: World) -> None:
    token = world.user("alice@example.com", password="alice-password-1")
    _, esc_token = world.esc("billing")
    assert live_api.get("/users/validate_user_auth", token).status_code == 200
    lifetime = timedelta(seconds=live_api.app.state.settings.user_token_lifetime)
    assert lifetime == timedelta(days=90)  # the documented default
    with world.session() as session:
        for row in session.query(AuthToken):
            row.create_time = utcnow() - lifetime - timedelta(seconds=1)
    response = live_api.get("/users/validate_user_auth", token)
    assert response.status_code == 401
    assert response.json()["error"].startswith("given access token has expired: log in again")
    assert live_api.get("/users/validate_user_auth", esc_token).status_code == 200  # ESC tokens do not expire
    fresh = live_api.post(
        "/users/login", json={"username": "alice@example.com", "password": "alice-password-1"}
    )
    assert fresh.status_code == 200 and fresh.json()["token"] != token
    assert live_api.get("/users/validate_user_auth", fresh.json()["token"]).status_code == 200


def test_a_password_change_revokes_the_old_tokens(live_api: Api, world: World) -> None:
    old = world.user("carol@example.com", password="first-password-1")
    response = live_api.put(
        "/users/change_password",
        old,
        json={"old_password": "first-password-1", "new_password": "second-pw-22"},
    )
    assert response.status_code == 200, response.text
    new = response.json()["new_token"]
    refused = live_api.get("/users/validate_user_auth", old)
    assert refused.status_code == 401 and refused.json()["error"] == "given access token has been revoked"
    assert live_api.get("/users/validate_user_auth", new).json()["username"] == "carol@example.com"
    login = live_api.post("/users/login", json={"username": "carol@example.com", "password": "second-pw-22"})
    assert login.json()["token"] == new


def test_staff_regenerating_a_users_token_do_not_receive_it(live_api: Api, world: World) -> None:
    old = world.user("dave@example.com", password="dave-password-1")
    staff = world.user("staff@example.com", staff=True)
    response = live_api.post("/users/dave@example.com/token/regenerate", staff)
    assert response.status_code == 200
    assert set(response.json()) == {"message"} and "eyJ" not in response.text
    assert live_api.get("/users/validate_user_auth", old).status_code == 401
    # the user finds the new token on their profile after logging in again
    login = live_api.post(
        "/users/login", json={"username": "dave@example.com", "password": "dave-password-1"}
    )
    new = login.json()["token"]
    assert new != old and live_api.get("/auth/token/user", new).json()["token"] == new
    mine = live_api.get("/auth/token/user", staff).json()["token"]
    assert mine == staff  # staff only ever see their own


def test_regenerating_your_own_token_answers_upstreams_new_token(live_api: Api, world: World) -> None:
    admin = live_api.post("/users/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()[
        "token"
    ]
    response = live_api.post("/auth/token/user/regenerate", admin)
    assert response.status_code == 200 and set(response.json()) == {"new_token"}
    new = response.json()["new_token"]
    assert live_api.get("/users/validate_user_auth", admin).status_code == 401
    assert live_api.get("/users/validate_user_auth", new).json()["username"] == "admin"


def test_a_job_page_session_ends_with_its_expired_token(live_api: Api, world: World) -> None:
    """A browser session on a job's own host names a user's token: it must not outlive the token."""
    from urllib.parse import parse_qs, urlsplit

    from api.lifecycle.deps import expected_internal_token

    world.job("adder", "1.0.0")
    token = world.user("alice@example.com")
    internal = {"X-Racetrack-Internal-Auth": expected_internal_token(live_api.app.state.settings)}
    opened = live_api.post(
        "/auth/job-session/ticket", token, json={"job_name": "adder", "path": "/pub/job/adder/1.0.0/docs"}
    )
    assert opened.status_code == 200, opened.text
    url = opened.json()["url"]
    ticket = parse_qs(urlsplit(url).query)["ticket"][0]
    redeemed = live_api.post(
        "/auth/job-session/redeem", headers=internal, json={"ticket": ticket, "job_name": "adder"}
    )
    assert redeemed.status_code == 200, redeemed.text
    as_browser = {**internal, "X-Racetrack-Job-Session": redeemed.json()["session"]}
    assert (
        live_api.get("/auth/can-call-job/adder/1.0.0/api/v1/perform", headers=as_browser).status_code == 200
    )
    with world.session() as session:
        for row in session.query(AuthToken):
            row.create_time = utcnow() - timedelta(days=90, seconds=1)
    refused = live_api.get("/auth/can-call-job/adder/1.0.0/api/v1/perform", headers=as_browser)
    assert refused.status_code == 401 and "expired" in refused.json()["error"]
