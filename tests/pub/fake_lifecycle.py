"""A stand-in lifecycle that implements only pub's contract (docs/architecture.md, "Pub ⇄ lifecycle"):
`GET /lifecycle/api/v1/auth/can-call-job/{name}/{version}/{path}` and the `/job/async/call` CRUD.

Tests change its state directly (it runs in a thread of the test process): jobs, tokens with their
permissions, public endpoints, maintenance mode, and whether it answers at all (`down`).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

OPEN_PATHS = {"health", "live", "ready"}
# The lifecycle's async call schema (api/lifecycle/routes/async_calls.py).
CREATE_FIELDS = {
    "id",
    "status",
    "job_name",
    "job_version",
    "job_path",
    "request_method",
    "request_url",
    "request_headers",
    "request_body",
    "pub_instance_addr",
    "attempts",
    "caller_subject_id",
}
UPDATE_FIELDS = {
    "status",
    "error",
    "response_status_code",
    "response_headers",
    "response_body",
    "attempts",
    "pub_instance_addr",
    "retriable_error",
}
REQUIRED = {"status", "attempts", "retriable_error"}
OUT_DEFAULTS = {
    "status": "ongoing",
    "ended_at": None,
    "error": None,
    "request_headers": None,
    "request_body": None,
    "response_status_code": None,
    "response_headers": None,
    "response_body": None,
    "attempts": 0,
    "pub_instance_addr": None,
    "retriable_error": False,
}


@dataclass
class Grant:
    job: str | None = None  # None: every job
    endpoint: str | None = None  # None: every endpoint; else a path like "/api/v1/perform"


@dataclass
class Token:
    subject: str  # "User alice", "ESC billing", "Job family python-chain"
    grants: list[Grant] = field(default_factory=list)
    revoked: bool = False


@dataclass
class FakeLifecycle:
    internal_token: str = "internal-secret"
    jobs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # name -> version -> job
    tokens: dict[str, Token] = field(default_factory=dict)
    public: set[tuple[str, str]] = field(default_factory=set)  # (job, endpoint prefix)
    maintenance: bool = False
    down: bool = False  # answer 502 to everything, as a dead lifecycle behind a proxy would
    calls: list[str] = field(default_factory=list)  # paths of can-call-job requests received
    async_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_job(self, name: str, version: str, internal_name: str, status: str = "running") -> None:
        self.jobs.setdefault(name, {})[version] = {
            "name": name,
            "version": version,
            "status": status,
            "internal_name": internal_name,
        }

    def app(self) -> Starlette:
        base = "/lifecycle/api/v1"
        return Starlette(
            routes=[
                Route(base + "/auth/can-call-job/{name}/{version}/{path:path}", self._can_call_job),
                Route(base + "/job/async/call", self._async_create, methods=["POST"]),
                Route(base + "/job/async/call/{id}", self._async_one, methods=["GET", "PUT", "DELETE"]),
            ]
        )

    # can-call-job ----------------------------------------------------------------------------

    def _resolve(self, name: str, version: str) -> dict[str, str] | None:
        versions = self.jobs.get(name, {})
        if version in versions:
            return versions[version]
        if version == "latest":
            stable = [
                v
                for v in versions
                if re.fullmatch(r"\d+\.\d+\.\d+", v) and versions[v]["status"] in ("running", "error", "lost")
            ]
        elif re.fullmatch(r"(\d+\.)+x", version):
            head = version[:-1]
            stable = [v for v in versions if v.startswith(head) and re.fullmatch(r"\d+\.\d+\.\d+", v)]
        else:
            return None
        if not stable:
            return None
        best = max(stable, key=lambda v: tuple(int(p) for p in v.split(".")))
        return versions[best]

    async def _can_call_job(self, request: Request) -> Response:
        if self.down:
            return Response("bad gateway", status_code=502)
        if request.headers.get("x-racetrack-internal-auth") != self.internal_token:
            return _error(401, "internal token missing or wrong", "Unauthenticated")
        name = request.path_params["name"]
        version = request.path_params["version"]
        path = request.path_params["path"]
        self.calls.append(f"{name}/{version}/{path}")
        if self.maintenance:
            return _error(503, "Racetrack is in maintenance mode", "Unavailable")
        job = self._resolve(name, version)
        if job is None:
            return _error(404, f"job {name} {version} not found", "NotFound")
        endpoint = "/" + path
        ok = {"job": job, "caller": None}
        if path.strip("/") in OPEN_PATHS:
            return JSONResponse(ok)
        if any(name == j and endpoint.startswith(prefix) for j, prefix in self.public):
            return JSONResponse(ok)
        raw = request.headers.get("x-racetrack-auth")
        if not raw:
            return _error(401, "no header X-Racetrack-Auth: not logged in", "Unauthenticated")
        token = self.tokens.get(raw)
        if token is None:
            return _error(401, "wrong credentials: token is unknown", "Unauthenticated")
        if token.revoked:
            return _error(401, "given access token has been revoked", "Unauthenticated")
        for grant in token.grants:
            if grant.job in (None, name) and grant.endpoint in (None, endpoint):
                return JSONResponse({"job": job, "caller": token.subject})
        return _error(
            403,
            f'no permission to do this operation: auth subject "{token.subject}" does not have '
            f'permission to access endpoint {endpoint} at resource "{name} {job["version"]}" '
            'with scope "call_job"',
            "Forbidden",
        )

    # async calls -----------------------------------------------------------------------------

    def _internal_ok(self, request: Request) -> bool:
        return request.headers.get("x-racetrack-internal-auth") == self.internal_token

    async def _async_create(self, request: Request) -> Response:
        if self.down:
            return Response("bad gateway", status_code=502)
        if not self._internal_ok(request):
            return _error(401, "internal token required", "Unauthenticated")
        body = await request.json()
        unknown = set(body) - CREATE_FIELDS
        if unknown:  # the real lifecycle forbids extra fields too
            return _error(422, f"unknown fields {sorted(unknown)}", "RequestValidationError")
        record = {**OUT_DEFAULTS, **body, "started_at": int(time.time())}
        with self.lock:
            self.async_calls[record["id"]] = record
        return JSONResponse(record, status_code=201)

    async def _async_one(self, request: Request) -> Response:
        if self.down:
            return Response("bad gateway", status_code=502)
        if not self._internal_ok(request):
            return _error(401, "internal token required", "Unauthenticated")
        task_id = request.path_params["id"]
        body = await request.json() if request.method == "PUT" else None
        if body is not None and set(body) - UPDATE_FIELDS:
            return _error(
                422, f"unknown fields {sorted(set(body) - UPDATE_FIELDS)}", "RequestValidationError"
            )
        with self.lock:
            record = self.async_calls.get(task_id)
            if record is None:
                return _error(404, f"async job call {task_id} was not found", "NotFound")
            if request.method == "PUT":
                record.update({k: v for k, v in body.items() if v is not None or k not in REQUIRED})
                if body.get("status") in ("completed", "failed") and record["ended_at"] is None:
                    record["ended_at"] = int(time.time())
            elif request.method == "DELETE":
                del self.async_calls[task_id]
                return JSONResponse({"message": "deleted"})
            return JSONResponse(dict(record))


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": message, "type": kind}, status_code=status)
