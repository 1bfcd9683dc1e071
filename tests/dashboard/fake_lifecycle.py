"""An in-memory lifecycle for the two dashboard tests whose data only the deploy engine and Pulumi write
(tests/dashboard/backends.py names them): a family's revision history with a rollback's plan, and a job's
runtime and build logs. Every other dashboard test runs against the real `api.lifecycle`.

It serves only what those pages call (login, who the user is, logs, revisions, rollback, a deployment),
with the lifecycle's paths, shapes and error bodies (docs/architecture.md).
"""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.routing import Mount


class FakeError(Exception):
    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def unauthenticated(message: str) -> FakeError:
    return FakeError(401, message, "Unauthenticated")


def not_found(message: str) -> FakeError:
    return FakeError(404, message, "NotFound")


@dataclass
class FakeUser:
    username: str
    password: str
    is_active: bool = False
    is_staff: bool = False


@dataclass
class FakeState:
    users: dict[str, FakeUser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    families: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # name -> version -> job
    revisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> oldest first
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeLifecycle:
    """The fake's state plus its ASGI app (`.app`, serving `/lifecycle/api/v1/...`)."""

    def __init__(self, *, admin_username: str = "admin", admin_password: str = "admin-password-1") -> None:
        self.state = FakeState()
        self._ids = itertools.count(1)
        self.add_user(admin_username, admin_password, active=True, staff=True)
        self.app = Starlette(routes=[Mount("/lifecycle/api/v1", app=self._build_api())])

    # Helpers used by tests to set the scene ---------------------------------------------------

    def add_user(self, username: str, password: str, *, active: bool, staff: bool = False) -> str:
        self.state.users[username] = FakeUser(username, password, is_active=active, is_staff=staff)
        token = "rt-" + secrets.token_urlsafe(24)
        self.state.tokens[token] = username
        return token

    def token_of(self, username: str) -> str:
        return next(t for t, u in self.state.tokens.items() if u == username)

    def deploy_job(self, name: str, version: str, *, by: str) -> dict[str, Any]:
        """What a finished deploy leaves: the job running, a revision, a deployment."""
        self.state.families.setdefault(name, {})[version] = {"name": name, "version": version}
        self._revision(name, operation="deploy", by=by, summary={"version": version})
        return self._deployment(kind="deploy", name=name, version=version, by=by)

    # Internals ------------------------------------------------------------------------------

    def _deployment(
        self, *, kind: str, name: str, version: str | None, by: str, preview: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = int(time.time())
        deployment = {
            "id": f"dep-{next(self._ids)}",
            "kind": kind,
            "status": "done",
            "phase": "done",
            "error": None,
            "warnings": None,
            "image_name": None,
            "job_name": name,
            "job_version": version,
            "deployed_by": by,
            "infrastructure_target": "docker",
            "revision_number": None,
            "manifest_yaml": None,
            "preview": preview,
            "create_time": now - 12,
            "update_time": now,
            "job": None,
        }
        self.state.deployments[deployment["id"]] = deployment
        return deployment

    def _revision(self, family: str, *, operation: str, by: str, summary: dict[str, Any]) -> None:
        revisions = self.state.revisions.setdefault(family, [])
        jobs = self.state.families.get(family, {})
        revisions.append(
            {
                "number": len(revisions) + 1,
                "target": "docker",
                "created_at": int(time.time()),
                "created_by": by,
                "operation": operation,
                "status": "succeeded",
                "error": None,
                "versions": sorted(jobs),
                "summary": summary,
                "_jobs": copy.deepcopy(jobs),
            }
        )

    def _user(self, request: Request) -> FakeUser:
        token = request.headers.get("X-Racetrack-Auth")
        if not token:
            raise unauthenticated("no header X-Racetrack-Auth: not logged in")
        username = self.state.tokens.get(token)
        if username is None:
            raise unauthenticated("wrong credentials: token is unknown")
        return self.state.users[username]

    def _job(self, name: str, version: str) -> dict[str, Any]:
        versions = self.state.families.get(name, {})
        if version not in versions:
            raise not_found(f"job {name} {version} not found")
        return versions[version]

    def _plan(self, family: str, target: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The steps a rollback to `target` takes, as the stack runner's preview reports them."""
        current = self.state.families.get(family, {})
        steps = [
            {
                "op": "create" if version not in current else "delete",
                "urn": f"urn:pulumi:rt::job::docker:Container::{family}-{version}",
                "type": "docker:Container",
                "name": f"{family}-{version}",
                "diffs": [],
                "changes": {},
            }
            for version in sorted(set(current) ^ set(target))
        ]
        summary: dict[str, int] = {}
        for step in steps:
            summary[step["op"]] = summary.get(step["op"], 0) + 1
        return {"steps": steps, "summary": summary}

    def _build_api(self) -> FastAPI:
        api = FastAPI()
        state = self.state

        @api.exception_handler(FakeError)
        async def _error(request: Request, exc: FakeError) -> JSONResponse:
            return JSONResponse({"error": exc.message, "type": exc.kind}, status_code=exc.status)

        @api.post("/users/login")
        async def login(body: dict[str, Any]) -> dict[str, Any]:
            user = state.users.get(str(body.get("username", "")))
            if user is None or user.password != body.get("password") or not user.is_active:
                raise unauthenticated("wrong username or password")
            return {"username": user.username, "token": self.token_of(user.username)}

        @api.get("/users/validate_user_auth")
        async def whoami(request: Request) -> dict[str, Any]:
            user = self._user(request)
            return {
                "username": user.username,
                "subject_type": "user",
                "is_staff": user.is_staff,
                "is_superuser": user.is_staff,
            }

        @api.get("/job/{name}/{version}/logs")
        async def logs(name: str, version: str, request: Request, tail: int = 20) -> dict[str, str]:
            self._user(request)
            self._job(name, version)
            return {"logs": f"INFO {name} {version} serving on :7000\nINFO GET /live 200\n"}

        @api.get("/job/{name}/{version}/build-logs")
        async def build_logs(name: str, version: str, request: Request, tail: int = 0) -> dict[str, str]:
            self._user(request)
            self._job(name, version)
            return {"logs": f"Step 1/3 : FROM racetrack/base-python\nbuilt {name}:{version}\n"}

        @api.get("/job_family/{name}/revisions")
        async def revisions(name: str, request: Request) -> list[dict[str, Any]]:
            self._user(request)
            if name not in state.revisions:
                raise not_found(f"job family {name} not found")
            return [
                {k: v for k, v in revision.items() if not k.startswith("_")}
                for revision in reversed(state.revisions[name])
            ]

        @api.post("/job_family/{name}/rollback")
        async def rollback(name: str, request: Request, body: dict[str, Any]) -> JSONResponse:
            user = self._user(request)
            history = state.revisions.get(name)
            if not history:
                raise not_found(f"job family {name} not found")
            number = body.get("to_revision")
            target = next((r for r in history if r["number"] == number), None)
            if target is None:
                raise not_found(f"job family {name} has no revision {number}")
            plan = self._plan(name, target["_jobs"])
            if body.get("preview"):
                preview = self._deployment(
                    kind="preview", name=name, version=None, by=user.username, preview=plan
                )
                return JSONResponse(preview, status_code=202)
            state.families[name] = copy.deepcopy(target["_jobs"])
            self._revision(name, operation="rollback", by=user.username, summary={"to_revision": number})
            done = self._deployment(kind="rollback", name=name, version=None, by=user.username, preview=plan)
            return JSONResponse(done, status_code=202)

        @api.get("/deploy/{deployment_id}")
        async def deployment(deployment_id: str, request: Request) -> dict[str, Any]:
            self._user(request)
            if deployment_id not in state.deployments:
                raise not_found(f"deployment {deployment_id} not found")
            return state.deployments[deployment_id]

        return api
