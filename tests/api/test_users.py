"""Users: login and its cookie, registration and activation, password change, the first admin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.lifecycle import create_app
from api.settings import Settings
from tests.api.conftest import ADMIN_PASSWORD, Api, World


def test_admin_logs_in_and_gets_an_httponly_lax_cookie(api: Api) -> None:
    response = api.post("/users/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("X-Racetrack-Auth=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    assert api.get("/users/validate_user_auth", token).json()["username"] == "admin"


def test_cookie_is_secure_when_configured(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"secure_cookie": True}))
    with TestClient(app, base_url="https://testserver") as client:  # a Secure cookie travels over HTTPS only
        response = client.post(
            "/lifecycle/api/v1/users/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert "Secure" in response.headers["set-cookie"]
        # the cookie alone authenticates later requests
        assert client.get("/lifecycle/api/v1/users/validate_user_auth").json()["username"] == "admin"
        client.get("/lifecycle/api/v1/users/logout")
        assert client.get("/lifecycle/api/v1/users/validate_user_auth").status_code == 401
    app.state.db_engine.dispose()


def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    wrong = api.post("/users/login", json={"username": "admin", "password": "nope-nope-nope"})
    unknown = api.post("/users/login", json={"username": "ghost", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"error": "wrong username or password", "type": "Unauthenticated"}
    )


def test_registered_user_is_inactive_until_staff_activate_it(api: Api, world: World) -> None:
    response = api.post(
        "/users/register", json={"username": "alice@example.com", "password": "correct horse 1"}
    )
    assert response.status_code == 201 and response.json()["is_active"] is False
    login = api.post("/users/login", json={"username": "alice@example.com", "password": "correct horse 1"})
    assert login.status_code == 401 and "inactive" in login.json()["error"]

    admin = world.admin_token()
    activated = api.patch("/users/alice@example.com", admin, json={"is_active": True})
    assert activated.status_code == 200 and activated.json()["is_active"] is True
    token = api.post(
        "/users/login", json={"username": "alice@example.com", "password": "correct horse 1"}
    ).json()["token"]
    # default grants: read_job, call_job, deploy_new_family, deploy_job on everything
    assert api.get("/job", token).status_code == 200


def test_registration_rejects_weak_passwords_and_duplicates(api: Api) -> None:
    for password, problem in [
        ("short", "too short"),
        ("1234567890123", "only digits"),
        ("password1", "too common"),
    ]:
        response = api.post("/users/register", json={"username": "bob@example.com", "password": password})
        assert response.status_code == 400, password
        assert problem in response.json()["error"]
    assert (
        api.post(
            "/users/register", json={"username": "bob@example.com", "password": "fine-pass-42"}
        ).status_code
        == 201
    )
    again = api.post("/users/register", json={"username": "BOB@example.com", "password": "fine-pass-42"})
    assert again.status_code == 409 and again.json()["type"] == "AlreadyExists"


def test_change_password(api: Api, world: World) -> None:
    token = world.user("carol@example.com", password="first-password-1")
    bad = api.put(
        "/users/change_password", token, json={"old_password": "wrong-one-1", "new_password": "second-pw-2"}
    )
    assert bad.status_code == 401
    ok = api.put(
        "/users/change_password",
        token,
        json={"old_password": "first-password-1", "new_password": "second-pw-2"},
    )
    assert ok.status_code == 200
    assert (
        api.post(
            "/users/login", json={"username": "carol@example.com", "password": "second-pw-2"}
        ).status_code
        == 200
    )
    assert (
        api.post(
            "/users/login", json={"username": "carol@example.com", "password": "first-password-1"}
        ).status_code
        == 401
    )


def test_deactivated_user_token_stops_working(api: Api, world: World) -> None:
    token = world.user("dave@example.com")
    assert api.get("/job", token).status_code == 200
    api.patch("/users/dave@example.com", world.admin_token(), json={"is_active": False})
    response = api.get("/job", token)
    assert response.status_code == 401 and "inactive" in response.json()["error"]


def test_staff_flag_needs_a_superuser(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    world.user("eve@example.com")
    response = api.patch("/users/eve@example.com", staff, json={"is_staff": True})
    assert response.status_code == 403
    assert api.patch("/users/eve@example.com", world.admin_token(), json={"is_staff": True}).json()[
        "is_staff"
    ]
    assert api.patch("/users/admin", staff, json={"is_active": False}).status_code == 403


def test_generated_admin_password_is_printed_once_and_stored_owner_only(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=database_url)
    app = create_app(settings)
    printed = capsys.readouterr().err
    stored = settings.data_dir / "secrets" / "admin_password"
    password = stored.read_text()
    assert password in printed and len(password) >= 20
    assert os.stat(stored).st_mode & 0o777 == 0o600
    app.state.db_engine.dispose()
    second = create_app(settings)  # the admin exists: nothing is printed again
    assert password not in capsys.readouterr().err
    from fastapi.testclient import TestClient

    with TestClient(second) as client:
        login = client.post("/lifecycle/api/v1/users/login", json={"username": "admin", "password": password})
        assert login.status_code == 200
    second.state.db_engine.dispose()


def test_admin_name_and_password_come_from_settings(tmp_path: Path, database_url: str) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(
        data_dir=tmp_path / "d",
        database_url=database_url,
        admin_username="root",
        admin_password=SecretStr("from-the-environment"),
    )
    app = create_app(settings)
    assert not (settings.data_dir / "secrets" / "admin_password").exists()
    with TestClient(app) as client:
        response = client.post(
            "/lifecycle/api/v1/users/login", json={"username": "root", "password": "from-the-environment"}
        )
        assert response.status_code == 200
    app.state.db_engine.dispose()
