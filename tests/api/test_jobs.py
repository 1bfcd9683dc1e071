"""Jobs: permission-filtered listing, version aliases, deletion to the trash, logs."""

from __future__ import annotations

from sqlalchemy import select

from api.auth import Scope, grant, subject_for_esc
from api.db import Deployment, Esc, TrashJob
from api.db.repository import add_revision, create_deployment, get_family
from tests.api.conftest import Api, World


def test_list_is_filtered_by_read_permission(api: Api, world: World) -> None:
    world.job("adder", "1.0.0")
    world.job("adder", "1.1.0")
    world.job("secret", "1.0.0")
    user = world.user("alice@example.com")
    esc_id, esc = world.esc("billing")
    assert [(j["name"], j["version"]) for j in api.get("/job", user).json()] == [
        ("adder", "1.0.0"),
        ("adder", "1.1.0"),
        ("secret", "1.0.0"),
    ]
    assert api.get("/job", esc).json() == []
    with world.session() as session:
        subject = subject_for_esc(session, session.get(Esc, esc_id))
        grant(session, subject, Scope.read_job, family=get_family(session, "adder"))
    assert {j["name"] for j in api.get("/job", esc).json()} == {"adder"}
    assert [f["name"] for f in api.get("/job_family", esc).json()] == ["adder"]
    assert api.get("/job/secret/1.0.0", esc).status_code == 403
    assert api.get("/job", None).status_code == 401


def test_get_resolves_latest_and_wildcards(api: Api, world: World) -> None:
    user = world.user("alice@example.com")
    world.job("adder", "1.0.0")
    world.job("adder", "1.4.0", status="error")
    world.job("adder", "2.0.0", status="starting")
    assert api.get("/job/adder/latest", user).json()["version"] == "1.4.0"
    assert api.get("/job/adder/1.x", user).json()["version"] == "1.4.0"
    assert api.get("/job/adder/2.0.0", user).json()["status"] == "starting"
    job = api.get("/job/adder/1.0.0", user).json()
    assert job["pub_url"].endswith("/pub/job/adder/1.0.0") and isinstance(job["update_time"], int)
    missing = api.get("/job/adder/3.x", user)
    assert missing.status_code == 404 and missing.json()["type"] == "NotFound"


def test_delete_moves_to_trash_and_needs_delete_scope(api: Api, world: World) -> None:
    user = world.user("alice@example.com")
    world.job("adder", "1.0.0")
    response = api.delete("/job/adder/1.0.0", user)  # default grants do not include delete_job
    assert response.status_code == 403 and response.json()["type"] == "Forbidden"
    admin = world.admin_token()
    assert api.delete("/job/adder/latest", admin).status_code == 404  # delete needs the exact version
    response = api.delete("/job/adder/1.0.0", admin)
    assert response.status_code == 200
    operation = response.json()
    assert operation["kind"] == "delete" and operation["status"] == "done"
    assert "infrastructure was not touched" in operation["warnings"]
    assert api.get("/job/adder/1.0.0", admin).status_code == 404
    with world.session() as session:
        trashed = session.scalars(select(TrashJob)).one()
        assert (trashed.name, trashed.version, trashed.deleted_by) == ("adder", "1.0.0", "admin")
    assert (
        api.get("/audit/activity", admin, params={"job_name": "adder"}).json()[0]["event_type"]
        == "job_deleted"
    )


def test_deployer_grants_allow_delete(api: Api, world: World) -> None:
    from api.auth import grant_deployer, subject_for_user
    from api.db import User

    user = world.user("alice@example.com")
    job = world.job("adder", "1.0.0")
    with world.session() as session:
        alice = session.scalars(select(User).where(User.username == "alice@example.com")).one()
        grant_deployer(session, subject_for_user(session, alice), session.merge(job))
    assert api.delete("/job/adder/1.0.0", user).status_code == 200


def test_logs_and_build_logs(api: Api, world: World) -> None:
    user = world.user("alice@example.com")
    world.job("adder", "1.0.0")
    with world.session() as session:
        create_deployment(
            session,
            kind="deploy",
            status="done",
            job_name="adder",
            job_version="1.0.0",
            build_logs="step 1\nstep 2\nstep 3\n",
        )
    assert api.get("/job/adder/1.0.0/build-logs", user).json()["logs"] == "step 1\nstep 2\nstep 3\n"
    assert api.get("/job/adder/1.0.0/build-logs", user, params={"tail": 2}).json()["logs"] == "step 2\nstep 3"
    runtime = api.get("/job/adder/latest/logs", user).json()["logs"]
    assert "no deploy engine is configured" in runtime


def test_revisions_are_listed_newest_first(api: Api, world: World) -> None:
    user = world.user("alice@example.com")
    world.job("adder", "1.0.0")
    with world.session() as session:
        family = get_family(session, "adder")
        assert family is not None
        first = add_revision(
            session,
            family,
            target="docker",
            desired_state={"versions": [{"version": "1.0.0"}]},
            operation="deploy",
            created_by="alice@example.com",
        )
        second = add_revision(
            session,
            family,
            target="docker",
            desired_state={"versions": [{"version": "1.0.0"}, {"version": "1.1.0"}]},
            operation="deploy",
            created_by="alice@example.com",
        )
        assert (first.number, second.number) == (1, 2)
        assert session.scalars(select(Deployment)).all() == []
    revisions = api.get("/job_family/adder/revisions", user).json()
    assert [r["number"] for r in revisions] == [2, 1]
    assert revisions[0]["versions"] == ["1.0.0", "1.1.0"] and revisions[0]["status"] == "pending"


def test_public_endpoint_requests_follow_the_manifest(api: Api, world: World) -> None:
    from api.db.repository import request_public_endpoints

    job = world.job("adder", "1.0.0")
    with world.session() as session:
        job = session.merge(job)
        first = request_public_endpoints(session, job, ["/api/v1/a", "/api/v1/b"])
        first[0].active = True
    with world.session() as session:
        job = session.merge(job)
        again = request_public_endpoints(session, job, ["/api/v1/a", "/api/v1/c"])
        assert [(r.endpoint, r.active) for r in again] == [("/api/v1/a", True), ("/api/v1/c", False)]
    listed = api.get("/job/adder/1.0.0/public-endpoints", world.user("u@example.com")).json()
    assert sorted((p["endpoint"], p["active"]) for p in listed) == [("/api/v1/a", True), ("/api/v1/c", False)]
