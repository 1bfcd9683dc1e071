"""Walks every route of the lifecycle API with every kind of subject: nobody gets more than the model.

The model, per route, is the set of subjects that may pass authentication and authorization. A subject
outside the set must get 401 or 403; a subject inside must not (it may still get 404, 409, ... for other
reasons). Subjects that would be refused run first, on an untouched state, so that an allowed request
that deletes or changes something cannot turn a refusal into a 404 that hides an access.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from api.auth import Scope, grant, subject_for_esc, subject_for_family
from api.db import AsyncJobCall, AuthToken, Esc, Permission, Plugin, PublicEndpointRequest, User
from api.db.repository import create_deployment, get_family
from api.lifecycle.app import API_PREFIX, BASE_PATH
from api.lifecycle.routes import ROUTERS
from tests.api.conftest import ADMIN_PASSWORD, Api, World

ANON, INACTIVE, USER, OWNER, STAFF, ESC, FAMILY, ESC_READER, FAMILY_DEPLOYER, ADMIN = (
    "anonymous",
    "inactive user",
    "user",
    "owner of adder",
    "staff",
    "esc",
    "job family",
    "esc with read_job on adder",
    "job family with deploy_job on adder",
    "superuser",
)
SUBJECTS = [ANON, INACTIVE, USER, OWNER, STAFF, ESC, FAMILY, ESC_READER, FAMILY_DEPLOYER, ADMIN]

EVERYONE = set(SUBJECTS)
AUTHENTICATED = EVERYONE - {ANON, INACTIVE}
USERS = {USER, OWNER, STAFF, ADMIN}
STAFF_ONLY = {STAFF, ADMIN}  # staff hold every scope, as superusers do
READERS = USERS | {ESC_READER}
# A family's deployers: its owner, those granted deploy_job on it, staff. Not every user (upstream's default).
DEPLOYERS = STAFF_ONLY | {OWNER, FAMILY_DEPLOYER}
INTERNAL_ONLY: set[str] = set()  # pub's internal token, which no subject here sends

MANIFEST = {
    "name": "adder",
    "owner_email": "a@example.com",
    "git": {"remote": "https://h/adder"},
    "jobtype": "python3:latest",
    "version": "2.0.0",
}


def _plugin_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", "name: matrix-plugin\nversion: 1.0.0\n")
        archive.writestr(
            "plugin.py",
            "class Plugin:\n"
            "    def markdown_docs(self):\n        return '# matrix plugin'\n"
            "    def run_action(self, **params):\n        return params\n",
        )
    return buffer.getvalue()


def _password_body(subject: str) -> dict[str, Any]:
    old = ADMIN_PASSWORD if subject == ADMIN else "a-good-password-1"
    return {"json": {"old_password": old, "new_password": old}}


# (method, path under /lifecycle/api/v1) -> (who may, request body)
Body = dict[str, Any] | Callable[[str], dict[str, Any]] | None
POLICY: dict[tuple[str, str], tuple[set[str], Body]] = {
    ("GET", "/info"): (EVERYONE, None),
    ("POST", "/users/login"): (
        EVERYONE,
        {"json": {"username": "target@example.com", "password": "a-good-password-1"}},
    ),
    ("GET", "/users/logout"): (EVERYONE, None),
    ("POST", "/users/register"): (
        EVERYONE,
        {"json": {"username": "new@example.com", "password": "a-new-password-9"}},
    ),
    ("GET", "/users/validate_user_auth"): (AUTHENTICATED, None),
    ("PUT", "/users/change_password"): (USERS, _password_body),
    ("GET", "/users"): (STAFF_ONLY, None),
    ("PATCH", "/users/{username}"): (STAFF_ONLY, {"json": {"is_active": True}}),
    ("POST", "/users/{username}/token/regenerate"): (STAFF_ONLY, None),
    ("GET", "/auth/token/user"): (USERS, None),
    ("POST", "/auth/token/user/regenerate"): (USERS, None),
    ("POST", "/auth/token/job_family/{name}/regenerate"): (STAFF_ONLY, None),
    ("GET", "/auth/token/esc/{esc_id}"): (STAFF_ONLY, None),
    # Every other user's tokens, staff's included: a superuser's act.
    ("POST", "/auth/token/user/all/regenerate"): ({ADMIN}, None),
    ("POST", "/auth/token/esc/regenerate"): (STAFF_ONLY, None),
    ("POST", "/auth/token/job_family/regenerate"): (STAFF_ONLY, None),
    ("GET", "/auth/can-call-job/{name}/{version}/{path}"): (INTERNAL_ONLY, None),
    ("GET", "/auth/can-call-job/{name}/{version}"): (INTERNAL_ONLY, None),
    ("POST", "/auth/job-session/ticket"): (
        USERS,
        {"json": {"job_name": "adder", "path": "/pub/job/adder/1.0.0/docs"}},
    ),
    ("POST", "/auth/job-session/redeem"): (INTERNAL_ONLY, {"json": {"ticket": "x", "job_name": "adder"}}),
    ("GET", "/auth/permissions"): (STAFF_ONLY, None),
    ("POST", "/auth/permissions"): (
        STAFF_ONLY,
        {"json": {"subject_kind": "user", "subject_name": "target@example.com", "scope": "read_job"}},
    ),
    ("DELETE", "/auth/permissions/{permission_id}"): (STAFF_ONLY, None),
    ("POST", "/auth/allow/esc/{esc_id}/job/{family}/scope/{scope}"): (STAFF_ONLY, None),
    ("POST", "/auth/allow/job_family/{source}/job/{target}/scope/{scope}"): (STAFF_ONLY, None),
    ("GET", "/auth/allowed/job/{name}/{version}/scope/{scope}"): (AUTHENTICATED, None),
    ("GET", "/auth/allowed/job_endpoint/{name}/{version}/scope/{scope}/endpoint/{endpoint}"): (
        AUTHENTICATED,
        None,
    ),
    ("GET", "/escs"): (STAFF_ONLY, None),
    ("POST", "/escs"): (STAFF_ONLY, {"json": {"name": "another-esc"}}),
    ("GET", "/escs/{esc_id}/auth_data"): (STAFF_ONLY, None),
    ("POST", "/escs/{esc_id}/auth_token"): (STAFF_ONLY, {"json": {}}),
    ("DELETE", "/escs/{esc_id}/auth_token/{token_id}"): (STAFF_ONLY, None),
    ("POST", "/deploy"): (DEPLOYERS, {"json": {"manifest": MANIFEST}}),
    ("POST", "/deploy/preview"): (DEPLOYERS, {"json": {"manifest": MANIFEST}}),
    ("POST", "/build"): (DEPLOYERS, {"json": {"manifest": MANIFEST}}),
    # Only the caller's own finished builds: any other id is not found (404), whoever asks.
    ("GET", "/build/{deployment_id}/image"): (AUTHENTICATED, None),
    ("GET", "/deploy"): (AUTHENTICATED, None),
    ("GET", "/deploy/{deployment_id}"): (READERS, None),
    ("POST", "/job/async/call"): (
        STAFF_ONLY,
        {
            "json": {
                "job_name": "adder",
                "job_version": "1.0.0",
                "number": 1,
                "job_path": "/",
                "request_method": "POST",
                "request_url": "/pub/job/adder",
            }
        },
    ),
    ("GET", "/job/async/call/{call_id}"): (STAFF_ONLY, None),
    ("PUT", "/job/async/call/{call_id}"): (STAFF_ONLY, {"json": {"attempts": 1}}),
    ("DELETE", "/job/async/call/{call_id}"): (STAFF_ONLY, None),
    ("GET", "/job"): (AUTHENTICATED, None),
    ("GET", "/job_family"): (AUTHENTICATED, None),
    ("GET", "/job/graph"): (AUTHENTICATED, None),
    ("GET", "/job/portfolio"): (AUTHENTICATED, None),
    ("GET", "/job/{name}/{version}"): (READERS, None),
    ("DELETE", "/job/{name}/{version}"): (STAFF_ONLY, None),
    ("GET", "/job/{name}/{version}/logs"): (READERS, None),
    ("GET", "/job/{name}/{version}/build-logs"): (READERS, None),
    ("GET", "/job/{name}/{version}/logs/plain"): (READERS, None),
    ("GET", "/job/{name}/{version}/build-logs/plain"): (READERS, None),
    ("PUT", "/job/{name}/{version}/manifest"): (
        DEPLOYERS,
        {
            "json": {
                "manifest_yaml": "name: adder\nowner_email: a@example.com\ngit:\n  remote: https://h/adder\n"
                "jobtype: python3:latest\nversion: 1.0.0\n"
            }
        },
    ),
    ("GET", "/job/{name}/{version}/public-endpoints"): (READERS, None),
    ("GET", "/job_family/{name}/revisions"): (READERS, None),
    ("GET", "/job_family/{name}/revisions/{number}"): (READERS, None),
    ("POST", "/job_family/{name}/rollback"): (DEPLOYERS, {"json": {"to_revision": 1}}),
    ("POST", "/job/{name}/{version}/redeploy"): (DEPLOYERS, None),
    ("POST", "/job/{name}/{version}/reprovision"): (DEPLOYERS, None),
    # To the target it runs on: refused after the permission check, without needing a deploy engine.
    ("POST", "/job/{name}/{version}/move"): (DEPLOYERS, {"json": {"infrastructure_target": "docker"}}),
    ("POST", "/job_family/{name}/refresh"): (READERS, None),
    ("GET", "/job_family/{name}/stack-updates"): (READERS, None),
    ("POST", "/job/all/reconcile"): (STAFF_ONLY, None),  # scope call_admin_api
    ("GET", "/public_endpoint_requests"): (STAFF_ONLY, None),
    ("PUT", "/public_endpoint_requests/{request_id}"): (STAFF_ONLY, {"json": {"active": True}}),
    ("GET", "/audit/activity"): (AUTHENTICATED, None),
    ("GET", "/audit/events"): (AUTHENTICATED, None),
    ("GET", "/audit/events/job/{job_name}"): (AUTHENTICATED, None),
    ("GET", "/audit/events/job/{job_name}/{job_version}"): (AUTHENTICATED, None),
    ("GET", "/audit/user_events"): (AUTHENTICATED, None),
    ("GET", "/audit/user_events/job/{job_name}"): (AUTHENTICATED, None),
    ("GET", "/audit/user_events/job/{job_name}/{job_version}"): (AUTHENTICATED, None),
    ("GET", "/settings"): (AUTHENTICATED, None),
    ("PUT", "/settings"): (STAFF_ONLY, {"json": {"maintenance_mode": False}}),
    ("GET", "/plugin"): (AUTHENTICATED, None),
    ("GET", "/plugin/job_type/versions"): (AUTHENTICATED, None),
    ("POST", "/plugin/upload"): (STAFF_ONLY, {"files": {"file": ("p.zip", _plugin_zip())}}),
    ("POST", "/plugin/upload/{filename}"): (STAFF_ONLY, {"content": _plugin_zip()}),
    ("GET", "/plugin/{name}/{version}/download"): (STAFF_ONLY, None),
    ("DELETE", "/plugin/{name}/{version}"): (STAFF_ONLY, None),
    ("DELETE", "/plugin/all"): (STAFF_ONLY, None),
    ("GET", "/plugin/{name}/{version}/config"): (STAFF_ONLY, None),
    ("PUT", "/plugin/{name}/{version}/config"): (STAFF_ONLY, {"json": {"config_data": "retries: 3\n"}}),
    ("GET", "/plugin/{name}/docs"): (AUTHENTICATED, None),
    ("POST", "/plugin/{name}/run"): (STAFF_ONLY, {"json": {"action": "ping"}}),
    ("GET", "/plugin/infrastructure_targets"): (AUTHENTICATED, None),
    ("GET", "/plugin/tree"): (AUTHENTICATED, None),
}
HEALTH = [("GET", f"{BASE_PATH}/live"), ("GET", f"{BASE_PATH}/ready"), ("GET", f"{BASE_PATH}/health")]


def _api_routes() -> list[tuple[str, str]]:
    routes = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                routes.append((method, re.sub(r"\{(\w+):path\}", r"{\1}", route.path)))
    return routes


def test_the_policy_covers_every_route() -> None:
    assert sorted(_api_routes()) == sorted(POLICY), "add the new route to POLICY with who may use it"


@pytest.fixture
def seeded(api: Api, world: World) -> dict[str, Any]:
    tokens = {
        ANON: None,
        INACTIVE: world.user("inactive@example.com", active=False),
        USER: world.user("user@example.com"),
        OWNER: world.user("owner@example.com"),
        STAFF: world.user("staff@example.com", staff=True),
        ADMIN: world.admin_token(),
    }
    world.user("target@example.com")
    job = world.job("adder", "1.0.0", owner="owner@example.com")
    esc_id, tokens[ESC] = world.esc("plain-esc")
    reader_id, tokens[ESC_READER] = world.esc("reader-esc")
    tokens[FAMILY] = world.family_token("other-family")
    tokens[FAMILY_DEPLOYER] = world.family_token("deployer-family")
    with world.session() as session:
        adder = get_family(session, "adder")
        grant(session, subject_for_esc(session, session.get(Esc, reader_id)), Scope.read_job, family=adder)
        deployer = get_family(session, "deployer-family")
        assert adder is not None and deployer is not None
        grant(session, subject_for_family(session, deployer), Scope.deploy_job, family=adder)
        deployment = create_deployment(
            session,
            kind="deploy",
            status="done",
            job_name="adder",
            job_version="1.0.0",
            deployed_by="target@example.com",
        )
        request = PublicEndpointRequest(job_id=job.id, endpoint="/api/v1/public")
        session.add(request)
        session.add(
            AsyncJobCall(
                id="call-1",
                job_name="adder",
                job_version="1.0.0",
                job_path="/",
                request_method="POST",
                request_url="/pub/job/adder/1.0.0/",
            )
        )
        target = session.scalar(select(User).where(User.username == "target@example.com"))
        permission = session.scalar(
            select(Permission).join(Permission.subject).where(Permission.subject.has(user_id=target.id))
        )
        esc_token = session.scalar(select(AuthToken).where(AuthToken.subject.has(esc_id=esc_id)))
        session.flush()
        ids = {
            "deployment_id": deployment.id,
            "request_id": request.id,
            "permission_id": permission.id,
            "token_id": esc_token.id,
        }
    staff_headers = {"X-Racetrack-Auth": tokens[STAFF]}
    assert (
        api.post("/plugin/upload/seed.zip", headers=staff_headers, content=_plugin_zip()).status_code == 201
    )
    with world.session() as session:
        assert session.scalar(select(Plugin)) is not None
    values = {
        "name": "adder",
        "version": "1.0.0",
        "username": "target@example.com",
        "esc_id": esc_id,
        "call_id": "call-1",
        "filename": "p.zip",
        "scope": "read_job",
        "family": "adder",
        "source": "deployer-family",
        "target": "adder",
        "path": "api/v1/perform",
        "endpoint": "api/v1/perform",
        "job_name": "adder",
        "job_version": "1.0.0",
        "number": 1,
        **ids,
    }
    return {"tokens": tokens, "values": values}


def _url(path: str, values: dict[str, Any]) -> str:
    if path.startswith("/plugin/{name}/"):
        values = {**values, "name": "matrix-plugin", "version": "1.0.0"}
    return API_PREFIX + path.format(**values)


@pytest.mark.parametrize(("method", "path"), sorted(POLICY))
def test_no_access_beyond_the_model(api: Api, seeded: dict[str, Any], method: str, path: str) -> None:
    allowed, body = POLICY[(method, path)]
    refused_first = [s for s in SUBJECTS if s not in allowed] + [s for s in SUBJECTS if s in allowed]
    problems = []
    for subject in refused_first:
        kwargs = body(subject) if callable(body) else dict(body or {})
        response = api.request(method, _url(path, seeded["values"]), seeded["tokens"][subject], **kwargs)
        denied = response.status_code in (401, 403)
        if subject in allowed and denied:
            problems.append(f"{subject} was refused ({response.status_code} {response.text[:120]})")
        if subject not in allowed and not denied:
            problems.append(f"{subject} got access ({response.status_code} {response.text[:120]})")
        if response.status_code >= 500:
            problems.append(f"{subject} caused {response.status_code}")
    assert not problems, f"{method} {path}: " + "; ".join(problems)


@pytest.mark.parametrize(("method", "url"), HEALTH)
def test_health_is_open(api: Api, method: str, url: str) -> None:
    assert api.request(method, url).status_code == 200
