"""A family's deployers are its owner (who deployed it first) and those granted; staff keep everything;
without a token nobody deploys or deletes, even with RACETRACK_AUTH_REQUIRED=false (the real lifecycle
over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from api.lifecycle import create_app
from api.settings import Settings
from tests.api.conftest import Api, World
from tests.api.test_deploy import MANIFEST
from tests.pub.servers import ServerThread


def _deploy(api: Api, token: str | None, version: str = "1.0.0", **extra: object):
    return api.post("/deploy", token, json={"manifest": {**MANIFEST, "version": version}, **extra})


def test_someone_elses_family_cannot_be_taken_over(live_api: Api, world: World) -> None:
    alice = world.user("alice@example.com")
    mallory = world.user("mallory@example.com")
    assert _deploy(live_api, alice).status_code == 202  # alice deploys adder first: she owns it
    world.job("adder", "1.0.0", deployed_by="alice@example.com")

    for response in (
        _deploy(live_api, mallory, force=True),  # replace alice's version, keeping its secrets
        _deploy(live_api, mallory, "2.0.0"),  # publish a version of her family
        live_api.post("/deploy/preview", mallory, json={"manifest": {**MANIFEST, "version": "2.0.0"}}),
        live_api.post("/job/adder/1.0.0/redeploy", mallory),
        live_api.post("/job/adder/1.0.0/reprovision", mallory),
        live_api.post("/job_family/adder/rollback", mallory, json={"to_revision": 1}),
        live_api.delete("/job/adder/1.0.0", mallory),
    ):
        assert response.status_code == 403, response.request.url
        assert "mallory@example.com" in response.text or response.json()["error"]
    assert _deploy(live_api, alice, "2.0.0").status_code == 202  # the owner goes on deploying


def test_granted_deployers_and_staff_deploy_others_families(live_api: Api, world: World) -> None:
    alice = world.user("alice@example.com")
    bob = world.user("bob@example.com")
    staff = world.user("staff@example.com", staff=True)
    assert _deploy(live_api, alice).status_code == 202
    assert _deploy(live_api, bob, "2.0.0").status_code == 403
    assert _deploy(live_api, staff, "2.0.0").status_code == 202  # staff keep everything
    grant = {
        "subject_kind": "user",
        "subject_name": "bob@example.com",
        "scope": "deploy_job",
        "job_family": "adder",
    }
    assert live_api.post("/auth/permissions", staff, json=grant).status_code == 201
    assert _deploy(live_api, bob, "3.0.0").status_code == 202
    mine = live_api.get("/auth/permissions", world.admin_token()).json()
    owners = [p for p in mine if p["scope"] == "deploy_job" and p["job_family"] == "adder"]
    assert {p["subject_name"] for p in owners} == {"alice@example.com", "bob@example.com"}


def test_new_users_may_create_families_but_deploy_nothing_else(live_api: Api, world: World) -> None:
    live_api.post("/users/register", json={"username": "new@example.com", "password": "a-good-password-1"})
    live_api.patch("/users/new@example.com", world.admin_token(), json={"is_active": True})
    token = live_api.post(
        "/users/login", json={"username": "new@example.com", "password": "a-good-password-1"}
    ).json()["token"]
    world.job("adder", "1.0.0")
    assert _deploy(live_api, token, "2.0.0").status_code == 403
    assert live_api.post("/deploy", token, json={"manifest": {**MANIFEST, "name": "mine"}}).status_code == 202
    assert live_api.get("/job", token).status_code == 200  # reading and calling stay open to users


@pytest.fixture
def open_api(settings: Settings) -> Iterator[tuple[Api, FastAPI]]:
    """The lifecycle with RACETRACK_AUTH_REQUIRED=false, over HTTP."""
    import httpx

    app = create_app(settings.model_copy(update={"auth_required": False}), run_migrations=False)
    server = ServerThread(app).start()
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
            yield Api(client, app), app  # type: ignore[arg-type]
    finally:
        server.stop()
        app.state.db_engine.dispose()


def test_without_required_auth_anonymous_callers_still_cannot_deploy_or_delete(
    open_api: tuple[Api, FastAPI],
) -> None:
    api, app = open_api
    world = World(app)
    world.job("adder", "1.0.0")
    assert api.get("/job", None).status_code == 200  # reading is open in this mode
    for response in (
        _deploy(api, None, "2.0.0"),
        api.post("/deploy", None, json={"manifest": {**MANIFEST, "name": "fresh"}}),
        api.delete("/job/adder/1.0.0", None),
        api.post("/job/adder/1.0.0/redeploy", None),
        api.post("/job_family/adder/rollback", None, json={"to_revision": 1}),
    ):
        assert response.status_code == 401, (response.request.url, response.text)
        assert response.json()["error"].startswith("no header X-Racetrack-Auth: log in")
    assert api.get("/job/adder/1.0.0", None).status_code == 200
