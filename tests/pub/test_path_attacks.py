"""A caller must not reach a job path other than the one the lifecycle approved.

The real lifecycle (SQLite, uvicorn) approves `/public` of job `foo` as a public endpoint; the real
gateway binary built from this checkout sits in front of a job that records every raw path it
receives. Each attack below tries to get past the check of `/public` to `/admin`: pub must refuse it
(400, saying why) and the job must never see a path outside `/public`. The same holds for async calls
and for the sidecar form (the same binary guarding one job).
"""

from __future__ import annotations

import http.client
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import unquote

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from api.auth import passwords as password_module
from api.db import PublicEndpointRequest
from api.lifecycle import create_app as create_lifecycle
from api.lifecycle.deps import expected_internal_token
from api.pub import SidecarTarget
from api.settings import Settings
from tests.api.conftest import World

from .conftest import base_config
from .servers import GatewayServer, ServerThread

JOB = "/pub/job/foo/1.0.0"

# Raw request targets (sent byte for byte) that try to turn an approved `/public` into `/admin`.
ATTACKS = [
    "/pub/job/foo/latest%2Fpublic/admin",
    "/pub/job/foo/latest%2fpublic/admin",
    "/pub/job/foo/1.0.0%2Fpublic/admin",
    "/pub/job/foo/1.0.0/public/../admin",
    "/pub/job/foo/1.0.0/public/./../admin",
    "/pub/job/foo/1.0.0/public/%2e%2e/admin",
    "/pub/job/foo/1.0.0/public/%2E%2E/admin",
    "/pub/job/foo/1.0.0/public/.%2e/admin",
    "/pub/job/foo/1.0.0/public%2F..%2Fadmin",
    "/pub/job/foo/1.0.0/public%5C..%5Cadmin",
    "/pub/job/foo/1.0.0/public/..%5Cadmin",
    "/pub/job/foo/1.0.0/public\\..\\admin",
    "/pub/job/foo/1.0.0/public%252F..%252Fadmin",
    "/pub/job/foo/1.0.0/public/%252e%252e/admin",
    "/pub/job/foo/1.0.0/public/..;/admin",
    "/pub/job/foo/1.0.0/public/..;x=1/admin",
    "/pub/job/foo/1.0.0/public//../admin",
    "/pub/job/foo/1.0.0/public/%2e%2e%2fadmin",
    "/pub/job/foo/1.0.0/public/%00/../admin",
    "/pub/job/%2e%2e/1.0.0/public/admin",
    "/pub/job/foo/%2e%2e/foo/1.0.0/public",
]


class RecordingJob:
    """A job answering 200 to every path, remembering the raw path of each request."""

    def __init__(self) -> None:
        self.raw_paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.raw_paths.append(scope["raw_path"].decode("latin-1"))
        body = json.dumps({"raw_path": self.raw_paths[-1]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class Site:
    job: RecordingJob
    gateway: GatewayServer
    sidecar: GatewayServer
    lifecycle_url: str
    internal_token: str


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Site]:
    """One lifecycle, job, gateway and sidecar for the whole module: the attacks only read."""
    tmp_path = tmp_path_factory.mktemp("path-attacks")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(password_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        settings = Settings(
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            database_url=f"sqlite:///{tmp_path / 'racetrack.db'}",
            admin_password=SecretStr("admin-password-for-tests"),
        )
        app = create_lifecycle(settings)
        lifecycle = ServerThread(app).start()
        job = RecordingJob()
        job_server = ServerThread(job).start()
        world = World(app)
        row = world.job("foo", "1.0.0", internal_name=job_server.address)
        with world.session() as session:
            session.add(PublicEndpointRequest(job_id=row.id, endpoint="/public", active=True))
        config = base_config(
            f"{lifecycle.url}/lifecycle",
            internal_token=expected_internal_token(settings),
            lifecycle_timeout=30,
        )
        sidecar_job = SidecarTarget(address=job_server.address, job_name="foo", job_version="1.0.0")
        gateway = GatewayServer(config)
        sidecar = GatewayServer(replace(config, sidecar=sidecar_job))
        try:
            yield Site(job, gateway, sidecar, f"{lifecycle.url}/lifecycle", expected_internal_token(settings))
        finally:
            gateway.stop()
            sidecar.stop()
            job_server.stop()
            lifecycle.stop()
            app.state.db_engine.dispose()


@pytest.fixture
def site(running: Site) -> Site:
    running.job.raw_paths.clear()
    return running


def send(
    server: GatewayServer,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict]:
    """Sends `target` exactly as written (http.client does not normalise it)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, {"text": text.decode("latin-1")}
    finally:
        connection.close()


def outside_public(raw_path: str) -> bool:
    """Whether a path the job received means anything other than something under /public, whichever way
    the job decodes it (once, twice, with backslashes as separators)."""
    for decoded in (raw_path, unquote(raw_path), unquote(unquote(raw_path))):
        normal = posixpath.normpath(decoded.replace("\\", "/").replace(";", "/"))
        if not (normal == JOB + "/public" or normal.startswith(JOB + "/public/")):
            return True
    return False


def test_the_approved_public_endpoint_works_and_nothing_else_without_a_token(site: Site) -> None:
    status, body = send(site.gateway, "GET", f"{JOB}/public/page")
    assert status == 200, body
    assert body == {"raw_path": f"{JOB}/public/page"}
    status, body = send(site.gateway, "GET", f"{JOB}/admin")
    assert status == 401, body


@pytest.mark.parametrize("target", ATTACKS)
def test_a_path_that_hides_another_is_refused_by_the_gateway(site: Site, target: str) -> None:
    status, body = send(site.gateway, "GET", target)
    assert status == 400, (status, body)
    assert body["error"].startswith("Proxy request error: Invalid request: "), body
    assert not [p for p in site.job.raw_paths if outside_public(p)], site.job.raw_paths


@pytest.mark.parametrize("target", ATTACKS)
def test_a_path_that_hides_another_is_refused_by_the_sidecar(site: Site, target: str) -> None:
    status, body = send(site.sidecar, "GET", target)
    assert status == 400, (status, body)
    assert not [p for p in site.job.raw_paths if outside_public(p)], site.job.raw_paths


@pytest.mark.parametrize("target", ATTACKS[:12])
def test_an_async_call_that_hides_another_path_is_refused(site: Site, target: str) -> None:
    async_target = target.replace("/pub/job/", "/pub/async/new/job/", 1)
    status, body = send(site.gateway, "POST", async_target, body=b"{}")
    assert status == 400, (status, body)  # the gateway's refusal: no task was created
    assert not [p for p in site.job.raw_paths if outside_public(p)], site.job.raw_paths


def test_the_refusal_says_what_is_wrong(site: Site) -> None:
    status, body = send(site.gateway, "GET", "/pub/job/foo/latest%2Fpublic/admin")
    assert status == 400
    assert "encoded '/'" in body["error"]
    status, body = send(site.gateway, "GET", f"{JOB}/public/../admin")
    assert "'..'" in body["error"]


def test_what_the_job_receives_is_what_was_checked(site: Site) -> None:
    """Characters that servers read differently reach the job in one encoding, the one the check used."""
    status, body = send(site.gateway, "GET", f"{JOB}/public/a%20b/c;d/%7Euser/%41")
    assert status == 200, body
    assert body == {"raw_path": f"{JOB}/public/a%20b/c%3Bd/~user/A"}
    status, body = send(site.gateway, "GET", f"{JOB}/public//x/")
    assert status == 200, body
    assert body == {"raw_path": f"{JOB}/public/x/"}


def test_the_lifecycle_itself_refuses_to_decide_on_a_path_with_dot_segments(site: Site) -> None:
    """Pub never asks this; a component that did would get a refusal, not a decision on `/admin`."""
    for path in ("public/%2e%2e/admin", "public/.%2E/admin", "public/..%5Cadmin", "public/%2e/x"):
        answer = httpx.get(
            f"{site.lifecycle_url}/api/v1/auth/can-call-job/foo/1.0.0/{path}",
            headers={"X-Racetrack-Internal-Auth": site.internal_token},
            trust_env=False,
        )
        assert answer.status_code == 400, (path, answer.text)
        assert "dot-segment" in answer.json()["error"] or "backslash" in answer.json()["error"]
