"""`GET /auth/can-call-job/...`: pub's question, answered exactly as docs/architecture.md says."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from api.auth import subject_for_user
from api.db import Job, PublicEndpointRequest, User
from api.lifecycle.deps import expected_internal_token
from api.settings import managed_secret
from tests.api.conftest import Api, World


@pytest.fixture
def pub(api: Api) -> Any:
    internal = expected_internal_token(api.app.state.settings)

    def ask(path: str, token: str | None = None) -> Any:
        return api.get(f"/auth/can-call-job/{path}", token, headers={"X-Racetrack-Internal-Auth": internal})

    return ask


def test_internal_token_is_the_managed_secret_and_is_required(api: Api, world: World, pub: Any) -> None:
    settings = api.app.state.settings
    assert expected_internal_token(settings) == managed_secret(settings.data_dir, "internal_token")
    world.job("adder", "1.0.0")
    user = world.user("alice@example.com")
    for headers in ({}, {"X-Racetrack-Internal-Auth": "wrong"}):
        response = api.get("/auth/can-call-job/adder/latest/api/v1/perform", user, headers=headers)
        assert response.status_code == 401 and "X-Racetrack-Internal-Auth" in response.json()["error"]
    assert pub("adder/latest/api/v1/perform", user).status_code == 200


def test_configured_internal_token_wins(api: Api, world: World) -> None:
    api.app.state.settings = api.app.state.settings.model_copy(
        update={"internal_token": SecretStr("pub-secret")}
    )
    world.job("adder", "1.0.0")
    response = api.get(
        "/auth/can-call-job/adder/1.0.0/live", headers={"X-Racetrack-Internal-Auth": "pub-secret"}
    )
    assert response.status_code == 200


def test_allowed_call_resolves_version_and_names_the_caller(world: World, pub: Any) -> None:
    world.job("adder", "1.0.0")
    world.job("adder", "1.2.0")
    user = world.user("alice@example.com")
    response = pub("adder/latest/api/v1/perform", user)
    answer = response.json()
    with world.session() as session:
        alice = session.query(User).filter_by(username="alice@example.com").one()
        assert answer.pop("caller_id") == subject_for_user(session, alice).id  # pub records it on async calls
    assert answer == {
        "job": {
            "name": "adder",
            "version": "1.2.0",
            "status": "running",
            "internal_name": "adder-1.2.0.internal:7000",
            "replica_internal_names": [],
        },
        "caller": "User alice@example.com",
        "remote_gateway_url": None,
        "remote_gateway_token": None,
    }


def test_unauthenticated_forbidden_and_missing(world: World, pub: Any) -> None:
    world.job("adder", "1.0.0")
    response = pub("adder/1.0.0/api/v1/perform")
    assert response.status_code == 401
    assert response.json() == {
        "error": "no header X-Racetrack-Auth: not logged in",
        "type": "Unauthenticated",
    }
    assert pub("adder/1.0.0/api/v1/perform", "garbage").json()["error"] == "invalid JWT token"
    _, esc = world.esc("billing")
    response = pub("adder/1.0.0/api/v1/perform", esc)
    assert response.status_code == 403 and response.json()["error"] == "no permission to do this operation"
    assert pub("nope/1.0.0/api/v1/perform", esc).status_code == 404
    assert pub("adder/9.x/api/v1/perform", esc).status_code == 404


def test_health_paths_need_no_token(world: World, pub: Any) -> None:
    world.job("adder", "1.0.0")
    for path in ("health", "live", "ready"):
        response = pub(f"adder/1.0.0/{path}")
        assert response.status_code == 200 and response.json()["caller"] is None


def test_endpoint_and_family_grants(api: Api, world: World, pub: Any) -> None:
    world.job("adder", "1.0.0")
    world.job("adder", "2.0.0")
    admin = world.admin_token()
    esc_id, esc = world.esc("billing")
    granted = api.post(
        "/auth/permissions",
        admin,
        json={
            "subject_kind": "esc",
            "subject_name": "billing",
            "scope": "call_job",
            "job_family": "adder",
            "job_version": "1.0.0",
            "endpoint": "/api/v1/perform",
        },
    )
    assert granted.status_code == 201
    assert pub("adder/1.0.0/api/v1/perform", esc).status_code == 200
    assert pub("adder/1.0.0/api/v1/perform/sub", esc).status_code == 200
    assert pub("adder/1.0.0/api/v1/performance", esc).status_code == 403  # prefix means path segments
    assert pub("adder/1.0.0/api/v1/other", esc).status_code == 403
    assert pub("adder/2.0.0/api/v1/perform", esc).status_code == 403  # a job grant covers one version
    # job-to-job: family `caller-job` may call every version of `adder`
    family = world.family_token("caller-job")
    assert pub("adder/2.0.0/api/v1/perform", family).status_code == 403
    assert api.post("/auth/allow/job_family/caller-job/job/adder/scope/call_job", admin).status_code == 201
    response = pub("adder/2.0.0/api/v1/perform", family)
    assert response.status_code == 200 and response.json()["caller"] == "Job family caller-job"
    assert api.post(f"/auth/allow/esc/{esc_id}/job/adder/scope/call_job", admin).status_code == 201
    assert pub("adder/2.0.0/api/v1/other", esc).status_code == 200


def test_public_endpoint_needs_approval(api: Api, world: World, pub: Any) -> None:
    job = world.job("adder", "1.0.0")
    with world.session() as session:
        session.add(PublicEndpointRequest(job_id=job.id, endpoint="/api/v1/public"))
    assert pub("adder/1.0.0/api/v1/public/x").status_code == 401
    staff = world.user("staff@example.com", staff=True)
    requests = api.get("/public_endpoint_requests", staff).json()
    assert [(r["job_name"], r["endpoint"], r["active"]) for r in requests] == [
        ("adder", "/api/v1/public", False)
    ]
    assert (
        api.put(f"/public_endpoint_requests/{requests[0]['id']}", staff, json={"active": True}).status_code
        == 200
    )
    response = pub("adder/1.0.0/api/v1/public/x", "a-bad-token-is-ignored-here")
    assert response.status_code == 200 and response.json()["caller"] is None
    assert pub("adder/1.0.0/api/v1/private").status_code == 401
    listed = api.get("/job/adder/1.0.0/public-endpoints", world.user("u@example.com")).json()
    assert listed[0]["active"] is True


def test_maintenance_mode_pauses_calls_and_last_call_is_recorded(api: Api, world: World, pub: Any) -> None:
    world.job("adder", "1.0.0")
    user = world.user("alice@example.com")
    assert pub("adder/1.0.0/api/v1/perform", user).status_code == 200
    with world.session() as session:
        assert session.scalars(select(Job)).one().last_call_time is not None
    api.put("/settings", world.admin_token(), json={"maintenance_mode": True})
    assert pub("adder/1.0.0/api/v1/perform", user).status_code == 503
