"""Deployments: recorded, handed to the engine, failed visibly without one; overwrite and permission rules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.db import Deployment
from api.db.repository import load_deploy_inputs
from api.lifecycle import create_app
from api.settings import Settings
from tests.api.conftest import Api, World

MANIFEST = {
    "name": "adder",
    "owner_email": "alice@example.com",
    "git": {"remote": "https://github.com/x/adder"},
    "jobtype": "python3:latest",
    "version": "1.0.0",
}


class FakeEngine:
    def __init__(self, fail: bool = False) -> None:
        self.submitted: list[str] = []
        self.fail = fail

    def submit(self, deployment_id: str) -> None:
        if self.fail:
            raise RuntimeError("queue is full")
        self.submitted.append(deployment_id)

    def runtime_logs(self, name: str, version: str, tail: int = 20) -> str:
        return ""

    def stack_history(self, family: str, target: str) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def engine_api(settings: Settings) -> Any:
    engine = FakeEngine()
    app = create_app(settings, engine)
    with TestClient(app) as client:
        yield Api(client, app), engine, World(app)
    app.state.db_engine.dispose()


def test_without_engine_the_deployment_fails_with_a_clear_reason(api: Api, world: World) -> None:
    token = world.user("alice@example.com")
    response = api.post("/deploy", token, json={"manifest": MANIFEST})
    assert response.status_code == 202
    deployment = response.json()
    assert deployment["status"] == "failed" and deployment["error"] == "no deploy engine is configured"
    again = api.get(f"/deploy/{deployment['id']}", token).json()
    assert again["status"] == "failed" and again["error"] == "no deploy engine is configured"
    assert api.get("/job", token).json() == []  # nothing pretends to be deployed
    events = api.get("/audit/activity", token).json()
    assert events[0]["event_type"] == "deployment_failed"


def test_engine_receives_the_recorded_deployment_with_its_inputs(engine_api: Any) -> None:
    api, engine, world = engine_api
    token = world.user("alice@example.com")
    body = {
        "manifest": {**MANIFEST, "lang": "python3:latest", "jobtype": None},
        "force": False,
        "git_credentials": {"username": "u", "password": "p"},
        "secret_vars": {"build_env": {}, "runtime_env": {"KEY": "s3cret"}},
        "build_context": "dGFy",
        "build_flags": ["--no-cache"],
    }
    response = api.post("/deploy", token, json=body)
    assert response.status_code == 202, response.text
    deployment = response.json()
    assert engine.submitted == [deployment["id"]]
    assert deployment["status"] == "in_progress" and deployment["deployed_by"] == "alice@example.com"
    assert "`lang` is deprecated" in deployment["warnings"]
    assert (
        "jobtype: python3:latest" in deployment["manifest_yaml"]
        and "s3cret" not in deployment["manifest_yaml"]
    )
    inputs = load_deploy_inputs(api.app.state.settings.data_dir, deployment["id"])
    assert inputs["secret_vars"]["runtime_env"] == {"KEY": "s3cret"} and inputs["build_context"] == "dGFy"
    # a second deploy of the same version while the first is in progress is refused
    assert api.post("/deploy", token, json={"manifest": MANIFEST, "force": True}).status_code == 409


def test_engine_refusal_is_recorded_as_failure(settings: Settings, world: World) -> None:
    app = create_app(settings, FakeEngine(fail=True))
    with TestClient(app) as client:
        api = Api(client, app)
        token = World(app).user("alice@example.com")
        deployment = api.post("/deploy", token, json={"manifest": MANIFEST}).json()
        assert deployment["status"] == "failed" and "queue is full" in deployment["error"]
    app.state.db_engine.dispose()


def test_existing_and_deleted_versions_need_force(api: Api, world: World) -> None:
    token = world.user("alice@example.com")
    world.job("adder", "1.0.0", owner="alice@example.com")
    response = api.post("/deploy", token, json={"manifest": MANIFEST})
    assert response.status_code == 409 and "--force" in response.json()["error"]
    assert api.post("/deploy", token, json={"manifest": MANIFEST, "force": True}).status_code == 202
    admin = world.admin_token()
    assert api.delete("/job/adder/1.0.0", admin).status_code == 200
    response = api.post("/deploy", token, json={"manifest": MANIFEST})
    assert response.status_code == 409 and "deleted" in response.json()["error"]


def test_invalid_manifest_is_a_400_naming_the_field(api: Api, world: World) -> None:
    token = world.user("alice@example.com")
    response = api.post("/deploy", token, json={"manifest": {**MANIFEST, "replica": 2}})
    assert response.status_code == 400
    assert response.json()["type"] == "InvalidInput" and "did you mean `replicas`" in response.json()["error"]
    response = api.post("/deploy", token, json={"manifest": "not a mapping"})
    assert response.status_code == 422 and "manifest" in response.json()["error"]


def test_deploy_permissions(api: Api, world: World) -> None:
    esc_id, esc_token = world.esc("billing")
    assert api.post("/deploy", esc_token, json={"manifest": MANIFEST}).status_code == 403
    assert api.post("/deploy", None, json={"manifest": MANIFEST}).status_code == 401
    admin = world.admin_token()
    api.post(
        "/auth/permissions",
        admin,
        json={"subject_kind": "esc", "subject_name": "billing", "scope": "deploy_new_family"},
    )
    world.job("adder", "0.9.0")  # someone else's family: deploy_new_family is not enough
    assert api.post("/deploy", esc_token, json={"manifest": MANIFEST}).status_code == 403
    own = {**MANIFEST, "name": "billing-job"}
    assert api.post("/deploy", esc_token, json={"manifest": own}).status_code == 202  # a new family: its own
    assert api.post("/deploy", esc_token, json={"manifest": {**own, "version": "1.0.1"}}).status_code == 202
    api.post(
        "/auth/permissions",
        admin,
        json={"subject_kind": "esc", "subject_name": "billing", "scope": "deploy_job", "job_family": "adder"},
    )
    assert api.post("/deploy", esc_token, json={"manifest": MANIFEST}).status_code == 202


def test_maintenance_mode_blocks_deploy_and_delete(api: Api, world: World) -> None:
    admin = world.admin_token()
    world.job("adder", "1.0.0")
    assert api.put("/settings", admin, json={"maintenance_mode": True}).json() == {"maintenance_mode": True}
    for response in (
        api.post("/deploy", admin, json={"manifest": {**MANIFEST, "version": "2.0.0"}}),
        api.delete("/job/adder/1.0.0", admin),
    ):
        assert response.status_code == 503 and response.json()["type"] == "Unavailable"
    api.put("/settings", admin, json={"maintenance_mode": False})
    assert api.delete("/job/adder/1.0.0", admin).status_code == 200


def test_deployment_list_and_visibility(api: Api, world: World) -> None:
    alice = world.user("alice@example.com")
    _, esc = world.esc("outsider")
    mine = api.post("/deploy", alice, json={"manifest": MANIFEST}).json()
    listed = api.get("/deploy", alice, params={"limit": 10}).json()
    assert [d["id"] for d in listed] == [mine["id"]]
    assert api.get("/deploy", esc).json() == []
    assert api.get(f"/deploy/{mine['id']}", esc).status_code == 403
    assert api.get("/deploy/no-such-id", alice).status_code == 404


def test_preview_and_rollback_are_recorded_operations(engine_api: Any) -> None:
    api, engine, world = engine_api
    token = world.user("alice@example.com")
    preview = api.post("/deploy/preview", token, json={"manifest": MANIFEST}).json()
    assert preview["kind"] == "preview" and preview["status"] == "in_progress"
    assert api.post("/job_family/adder/rollback", token, json={"to_revision": 1}).status_code == 404
    world.job("adder", "1.0.0", owner="alice@example.com")
    rollback = api.post("/job_family/adder/rollback", token, json={"to_revision": 1}).json()
    assert rollback["kind"] == "rollback" and engine.submitted == [preview["id"], rollback["id"]]
    with world.session() as session:
        assert session.get(Deployment, rollback["id"]).parameters["to_revision"] == 1
    assert api.get("/job_family/adder/revisions", token).json() == []
