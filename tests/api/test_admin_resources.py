"""ESCs and their tokens, permissions, tokens, plugins, async calls, settings and audit."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from api.db import AuthToken, utcnow
from api.lifecycle.deps import expected_internal_token
from tests.api.conftest import Api, World


def _plugin_zip(name: str = "python3-job-type", version: str = "2.15.1", category: str = "job-type") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", f"name: {name}\nversion: {version}\ncategory: {category}\n")
        archive.writestr("plugin.py", "class Plugin:\n    pass\n")
    return buffer.getvalue()


def test_esc_lifecycle_with_revocable_tokens(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    esc = api.post("/escs", staff, json={"name": "billing"}).json()
    assert api.post("/escs", staff, json={"name": "billing"}).status_code == 409
    assert [e["name"] for e in api.get("/escs", staff).json()] == ["billing"]
    first = api.post(f"/escs/{esc['id']}/auth_token", staff, json={"description": "prod"}).json()
    second = api.post(f"/escs/{esc['id']}/auth_token", staff, json={"expiry_days": 1}).json()
    assert api.get("/users/validate_user_auth", first["token"]).json() == {
        "username": "billing",
        "subject_type": "esc",
        "is_staff": False,
        "is_superuser": False,
    }
    data = api.get(f"/escs/{esc['id']}/auth_data", staff).json()
    assert [t["id"] for t in data["tokens"]] == [first["id"], second["id"]]
    assert data["tokens"][0]["last_use_time"] is not None  # the validate call above was recorded
    assert api.delete(f"/escs/{esc['id']}/auth_token/{first['id']}", staff).status_code == 200
    response = api.get("/users/validate_user_auth", first["token"])
    assert response.status_code == 401 and response.json()["error"] == "given access token has been revoked"
    assert api.get("/users/validate_user_auth", second["token"]).status_code == 200
    with world.session() as session:
        session.get(AuthToken, second["id"]).expiry_time = utcnow() - timedelta(seconds=1)
    assert (
        api.get("/users/validate_user_auth", second["token"]).json()["error"]
        == "given access token has expired"
    )


def test_token_messages_and_legacy_headers(api: Api, world: World) -> None:
    token = world.user("alice@example.com")
    assert api.get("/users/validate_user_auth", "not.a.jwt").json()["error"] == "invalid JWT token"
    for header in ("X-Racetrack-User-Auth", "X-Racetrack-Esc-Auth"):
        response = api.get("/users/validate_user_auth", headers={header: token})
        assert response.json()["username"] == "alice@example.com"
    regenerated = api.post("/auth/token/user/regenerate", token).json()["new_token"]
    assert regenerated != token
    assert (
        api.get("/users/validate_user_auth", token).json()["error"] == "given access token has been revoked"
    )
    assert api.get("/auth/token/user", regenerated).json()["token"] == regenerated


def test_unknown_token_signed_with_our_key(api: Api, world: World) -> None:
    import jwt

    forged = jwt.encode(
        {"seed": "0" * 36, "subject": "x", "subject_type": "user"},
        api.app.state.settings.signing_key(),
        algorithm="HS256",
    )
    assert (
        api.get("/users/validate_user_auth", forged).json()["error"] == "wrong credentials: token is unknown"
    )
    foreign = jwt.encode({"seed": "0" * 36}, "another-key-that-is-long-enough-for-hs256", algorithm="HS256")
    assert api.get("/users/validate_user_auth", foreign).json()["error"] == "invalid JWT token"


def test_permissions_grant_list_revoke(api: Api, world: World) -> None:
    admin = world.admin_token()
    world.user("alice@example.com")
    world.job("adder", "1.0.0")
    granted = api.post(
        "/auth/permissions",
        admin,
        json={
            "subject_kind": "user",
            "subject_name": "alice@example.com",
            "scope": "delete_job",
            "job_family": "adder",
        },
    )
    assert granted.status_code == 201
    listed = api.get(
        "/auth/permissions", admin, params={"subject_kind": "user", "subject_name": "alice@example.com"}
    ).json()
    assert {p["scope"] for p in listed} == {"read_job", "call_job", "deploy_new_family", "delete_job"}
    alice = api.post("/users/login", json={"username": "alice@example.com", "password": "a-good-password-1"})
    token = alice.json()["token"]
    assert api.get("/auth/allowed/job/adder/1.0.0/scope/delete_job", token).json() == {"allowed": True}
    assert api.delete(f"/auth/permissions/{granted.json()['id']}", admin).status_code == 200
    assert api.get("/auth/allowed/job/adder/1.0.0/scope/delete_job", token).json() == {"allowed": False}
    bad = api.post(
        "/auth/permissions",
        admin,
        json={
            "subject_kind": "user",
            "subject_name": "alice@example.com",
            "scope": "read_job",
            "job_version": "1.0.0",
        },
    )
    assert bad.status_code == 400 and "job_family" in bad.json()["error"]
    unknown = api.post(
        "/auth/permissions",
        admin,
        json={"subject_kind": "user", "subject_name": "alice@example.com", "scope": "fly"},
    )
    assert unknown.status_code == 422 and "scope" in unknown.json()["error"]


def test_plugins_upload_list_download_delete(api: Api, world: World) -> None:
    staff = world.user("staff@example.com", staff=True)
    user = world.user("alice@example.com")
    content = _plugin_zip()
    assert api.post("/plugin/upload/p.zip", user, content=content).status_code == 403
    response = api.post("/plugin/upload/p.zip", staff, content=content)
    assert response.status_code == 201 and response.json()["name"] == "python3-job-type"
    assert api.post("/plugin/upload/p.zip", staff, content=content).status_code == 409
    assert api.post("/plugin/upload/p.zip", staff, content=content, params={"replace": 1}).status_code == 201
    form = api.post(
        "/plugin/upload",
        staff,
        files={"file": ("d.zip", _plugin_zip("docker-infra", "1.0.0", "infrastructure"))},
    )
    assert form.status_code == 201
    assert [(p["name"], p["version"]) for p in api.get("/plugin", user).json()] == [
        ("docker-infra", "1.0.0"),
        ("python3-job-type", "2.15.1"),
    ]
    # This plugin declares no job type: only the built-in ones are there.
    assert api.get("/plugin/job_type/versions", user).json() == [
        "python3:1.0.0",
        "golang:1.0.0",
        "docker-proxy:1.0.0",
    ]
    assert api.get("/plugin/python3-job-type/2.15.1/download", staff).content == content
    bad = api.post("/plugin/upload/x.zip", staff, content=b"not a zip")
    assert bad.status_code == 400 and "not a ZIP" in bad.json()["error"]
    assert api.delete("/plugin/python3-job-type/2.15.1", staff).status_code == 200
    assert api.delete("/plugin/python3-job-type/2.15.1", staff).status_code == 404


def test_async_call_crud_for_pub(api: Api, world: World) -> None:
    internal = {"X-Racetrack-Internal-Auth": expected_internal_token(api.app.state.settings)}
    body = {
        "id": "task-1",
        "job_name": "adder",
        "job_version": "1.0.0",
        "job_path": "/api/v1/perform",
        "request_method": "POST",
        "request_url": "/pub/job/adder/1.0.0/api/v1/perform",
        "request_body": "{}",
    }
    assert api.post("/job/async/call", world.user("alice@example.com"), json=body).status_code == 403
    created = api.post("/job/async/call", headers=internal, json=body)
    assert created.status_code == 201 and created.json()["status"] == "ongoing"
    assert api.post("/job/async/call", headers=internal, json=body).status_code == 409
    updated = api.put(
        "/job/async/call/task-1",
        headers=internal,
        json={"status": "completed", "response_status_code": 200, "response_body": "42", "attempts": None},
    )
    assert updated.json()["ended_at"] is not None and updated.json()["attempts"] == 0
    assert api.get("/job/async/call/task-1", headers=internal).json()["response_body"] == "42"
    assert api.delete("/job/async/call/task-1", headers=internal).status_code == 200
    assert api.get("/job/async/call/task-1", headers=internal).status_code == 404
    assert api.get("/job/async/call/task-1").status_code == 401


def test_settings_need_staff_to_change(api: Api, world: World) -> None:
    user = world.user("alice@example.com")
    assert api.get("/settings", user).json() == {"maintenance_mode": False}
    response = api.put("/settings", user, json={"maintenance_mode": True})
    assert (
        response.status_code == 403
        and response.json()["error"] == "User alice@example.com is not a staff member"
    )


def test_audit_activity_is_filtered(api: Api, world: World) -> None:
    admin = world.admin_token()
    _, esc = world.esc("billing")
    api.put("/settings", admin, json={"maintenance_mode": False})
    assert [e["event_type"] for e in api.get("/audit/activity", admin).json()] == ["maintenance_mode_changed"]
    assert api.get("/audit/activity", esc).json() == []
    assert (
        api.get("/audit/activity", admin, params={"related_to_me": True}).json()[0]["username_executor"]
        == "admin"
    )


def test_values_the_database_cannot_store_are_bad_input(api: Api, world: World) -> None:
    token = world.user("alice@example.com")
    response = api.post("/users/register", json={"username": "nul\x00name", "password": "a-good-password-1"})
    assert response.status_code == 400
    response = api.get("/job/ad%00der/1.0.0", token)  # PostgreSQL refuses NUL in text, SQLite finds nothing
    assert response.status_code in (400, 404) and response.json()["type"] in ("InvalidInput", "NotFound")
    response = api.delete("/auth/permissions/99999999999", world.admin_token())
    assert response.status_code == 422 and "permission_id" in response.json()["error"]
