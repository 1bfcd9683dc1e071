"""An in-memory lifecycle that speaks the REST API the dashboard relies on (docs/dashboard.md).

Every other dashboard test runs against the real `api.lifecycle`; this one stays for the two tests
whose data only the deploy engine and Pulumi write (tests/dashboard/backends.py names them): a family's
revision history with diffs and a rollback's plan, and a job's runtime and build logs. Its paths, shapes and
messages follow the lifecycle's routes and schemas and docs/architecture.md.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.routing import Mount

SCOPES = {
    "read_job",
    "deploy_job",
    "deploy_new_family",
    "delete_job",
    "call_job",
    "call_admin_api",
    "full_access",
}
COMMON_PASSWORDS = {"password", "password1", "12345678", "qwertyuiop", "iloveyou", "letmein1", "racetrack"}


class FakeError(Exception):
    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def unauthenticated(message: str) -> FakeError:
    return FakeError(401, message, "Unauthenticated")


def forbidden(message: str) -> FakeError:
    return FakeError(403, message, "Forbidden")


def not_found(message: str) -> FakeError:
    return FakeError(404, message, "NotFound")


def invalid(message: str) -> FakeError:
    return FakeError(400, message, "InvalidInput")


@dataclass
class FakeUser:
    username: str
    password: str
    is_active: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    id: int = 0


@dataclass
class FakeState:
    users: dict[str, FakeUser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    families: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # name -> version -> job
    revisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> oldest first
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    permissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    escs: dict[str, dict[str, Any]] = field(default_factory=dict)
    esc_tokens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    plugins: list[dict[str, Any]] = field(default_factory=list)
    maintenance_mode: bool = False
    calls: list[str] = field(default_factory=list)  # "METHOD path" of every request, for tests


class FakeLifecycle:
    """The fake's state plus its ASGI app (`.app`, serving `/lifecycle/api/v1/...`)."""

    def __init__(
        self,
        *,
        admin_username: str = "admin",
        admin_password: str = "admin-password-1",
        pub_url: str = "http://pub.test/pub",
        job_address: str = "127.0.0.1:9000",
        internal_token: str | None = None,
    ) -> None:
        self.pub_url = pub_url
        self.job_address = job_address  # where every job "runs" (internal_name)
        self.internal_token = internal_token  # pub's token; checked by can-call-job when set
        self.state = FakeState()
        self._ids = itertools.count(1)
        self.add_user(admin_username, admin_password, active=True, staff=True)
        self.api = self._build_api()
        self.app = Starlette(routes=[Mount("/lifecycle/api/v1", app=self.api)])

    # Helpers used by tests to set the scene ---------------------------------------------------

    def add_user(self, username: str, password: str, *, active: bool, staff: bool = False) -> str:
        self.state.users[username] = FakeUser(
            username, password, is_active=active, is_staff=staff, is_superuser=staff, id=next(self._ids)
        )
        return self._new_token(username)

    def token_of(self, username: str) -> str:
        return next(t for t, u in self.state.tokens.items() if u == username)

    def deploy_job(
        self, name: str, version: str, *, by: str, owner: str = "owner@example.com", status: str = "running"
    ) -> dict[str, Any]:
        now = int(time.time())
        manifest = {
            "name": name,
            "version": version,
            "owner_email": owner,
            "jobtype": "python3:3.11",
            "git": {"remote": f"https://example.com/{name}.git", "directory": "."},
        }
        job = {
            "id": str(next(self._ids)),
            "name": name,
            "version": version,
            "status": status,
            "create_time": now,
            "update_time": now,
            "last_call_time": None,
            "manifest_yaml": yaml.safe_dump(manifest, sort_keys=False),
            "internal_name": self.job_address,
            "error": None,
            "notice": None,
            "image_ref": f"racetrack/job-{name}:{version}",
            "image_tag": version,
            "deployed_by": by,
            "infrastructure_target": "docker",
            "job_type_version": "python3:3.11",
            "replicas": 1,
            "pub_url": f"{self.pub_url}/job/{name}/{version}",
        }
        self.state.families.setdefault(name, {})[version] = job
        deployment = self._deployment(kind="deploy", name=name, version=version, by=by, status="done")
        self._revision(name, operation="deploy", by=by, summary={"version": version})
        self._event("job_deployed", by, name, version)
        return deployment

    # Internals ------------------------------------------------------------------------------

    def _new_token(self, username: str) -> str:
        for token, owner in list(self.state.tokens.items()):
            if owner == username:
                del self.state.tokens[token]
        token = "rt-" + secrets.token_urlsafe(24)
        self.state.tokens[token] = username
        return token

    def _deployment(
        self,
        *,
        kind: str,
        name: str,
        version: str | None,
        by: str,
        status: str,
        preview: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        deployment = {
            "id": f"dep-{next(self._ids)}",
            "kind": kind,
            "status": status,
            "phase": "done" if status == "done" else "building image",
            "error": error,
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

    def _revision(self, family: str, *, operation: str, by: str, summary: dict[str, Any]) -> dict[str, Any]:
        revisions = self.state.revisions.setdefault(family, [])
        jobs = self.state.families.get(family, {})
        revision = {
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
        revisions.append(revision)
        return revision

    def _event(
        self, kind: str, by: str, name: str | None = None, version: str | None = None, **props: Any
    ) -> None:
        self.state.events.append(
            {
                "id": next(self._ids),
                "timestamp": int(time.time()),
                "event_type": kind,
                "properties": props or None,
                "username_executor": by,
                "username_subject": None,
                "job_name": name,
                "job_version": version,
            }
        )

    def _user(self, request: Request) -> FakeUser:
        token = request.headers.get("X-Racetrack-Auth") or request.cookies.get("X-Racetrack-Auth")
        if not token:
            raise unauthenticated("no header X-Racetrack-Auth: not logged in")
        username = self.state.tokens.get(token)
        if username is None:
            raise unauthenticated("wrong credentials: token is unknown")
        return self.state.users[username]

    def _staff(self, request: Request) -> FakeUser:
        user = self._user(request)
        if not user.is_staff:
            raise forbidden(f"User {user.username} is not a staff member")
        return user

    def _job(self, name: str, version: str) -> dict[str, Any]:
        versions = self.state.families.get(name, {})
        if version == "latest" and versions:
            version = sorted(versions)[-1]
        if version not in versions:
            raise not_found(f"job {name} {version} not found")
        return versions[version]

    @staticmethod
    def _public(revision: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in revision.items() if not k.startswith("_")}

    def _plan(self, family: str, target: dict[str, dict[str, Any]]) -> dict[str, Any]:
        current = self.state.families.get(family, {})
        steps = []
        for version in sorted(set(current) | set(target)):
            urn = f"urn:pulumi:rt::job::docker:Container::{family}-{version}"
            if version not in current:
                steps.append(
                    {
                        "op": "create",
                        "urn": urn,
                        "type": "docker:Container",
                        "name": f"{family}-{version}",
                        "diffs": [],
                        "changes": {},
                    }
                )
            elif version not in target:
                steps.append(
                    {
                        "op": "delete",
                        "urn": urn,
                        "type": "docker:Container",
                        "name": f"{family}-{version}",
                        "diffs": [],
                        "changes": {},
                    }
                )
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

        @api.middleware("http")
        async def _record(request: Request, call_next: Any) -> Any:
            state.calls.append(f"{request.method} {request.url.path.removeprefix('/lifecycle/api/v1')}")
            return await call_next(request)

        def check_password(password: str) -> None:
            if len(password) < 8:
                raise invalid("password: too short (accepted: at least 8 characters)")
            if password.isdigit():
                raise invalid("password: only digits (accepted: a password that is not entirely numeric)")
            if password.lower() in COMMON_PASSWORDS:
                raise invalid(
                    "password: too common (accepted: a password that is not on common-password lists)"
                )

        def user_out(user: FakeUser) -> dict[str, Any]:
            return {
                "id": user.id,
                "username": user.username,
                "is_active": user.is_active,
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
                "date_joined": None,
                "last_login": None,
            }

        # Users -------------------------------------------------------------------------------
        @api.post("/users/register")
        async def register(body: dict[str, Any]) -> dict[str, Any]:
            username, password = str(body.get("username", "")), str(body.get("password", ""))
            if not 3 <= len(username) <= 150:
                raise invalid("username: wrong length (accepted: 3 to 150 characters)")
            check_password(password)
            if username in state.users:
                raise FakeError(409, f"user {username} already exists", "AlreadyExists")
            self.add_user(username, password, active=False)
            return user_out(state.users[username])

        @api.post("/users/login")
        async def login(body: dict[str, Any]) -> dict[str, Any]:
            user = state.users.get(str(body.get("username", "")))
            if user is None or user.password != body.get("password"):
                raise unauthenticated("wrong username or password")
            if not user.is_active:
                raise unauthenticated(
                    f"user {user.username} is inactive: wait till a Racetrack admin activates the account"
                )
            return {"username": user.username, "token": self.token_of(user.username)}

        @api.get("/users/validate_user_auth")
        async def whoami(request: Request) -> dict[str, Any]:
            user = self._user(request)
            return {
                "username": user.username,
                "subject_type": "user",
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
            }

        @api.put("/users/change_password")
        async def change_password(request: Request, body: dict[str, Any]) -> None:
            user = self._user(request)
            if body.get("old_password") != user.password:
                raise unauthenticated("old password is wrong")
            check_password(str(body.get("new_password", "")))
            user.password = str(body["new_password"])
            return {"message": "password changed", "new_token": self._new_token(user.username)}

        @api.post("/auth/token/user/regenerate")
        async def regenerate(request: Request) -> dict[str, Any]:
            user = self._user(request)
            return {"new_token": self._new_token(user.username)}

        @api.get("/users")
        async def list_users(request: Request) -> list[dict[str, Any]]:
            self._staff(request)
            return [user_out(u) for u in sorted(state.users.values(), key=lambda u: u.username)]

        @api.patch("/users/{username}")
        async def update_user(username: str, request: Request, body: dict[str, Any]) -> dict[str, Any]:
            staff = self._staff(request)
            user = state.users.get(username)
            if user is None:
                raise not_found(f"user {username} not found")
            if "is_staff" in body and bool(body["is_staff"]) != user.is_staff and not staff.is_superuser:
                raise forbidden(
                    f"User {staff.username} is not a superuser: only superusers change the staff flag"
                )
            for key in ("is_active", "is_staff"):
                if key in body:
                    setattr(user, key, bool(body[key]))
            self._event("user_updated", staff.username, **body)
            return user_out(user)

        @api.get("/info")
        async def info() -> dict[str, Any]:
            return {
                "service": "lifecycle",
                "git_version": "fake",
                "docker_tag": "fake",
                "auth_required": True,
                "external_pub_url": self.pub_url,
                "lifecycle_url": "http://lifecycle.test/lifecycle",
                "dashboard_url": "http://127.0.0.1:7003/dashboard",
                "grafana_url": None,
            }

        # Jobs ----------------------------------------------------------------------------------
        @api.get("/job")
        async def jobs(request: Request) -> list[dict[str, Any]]:
            self._user(request)
            return [job for versions in state.families.values() for job in versions.values()]

        @api.get("/job/{name}/{version}")
        async def job(name: str, version: str, request: Request) -> dict[str, Any]:
            self._user(request)
            return self._job(name, version)

        @api.delete("/job/{name}/{version}")
        async def delete(name: str, version: str, request: Request) -> None:
            user = self._user(request)
            if state.maintenance_mode:
                raise FakeError(503, "Racetrack is in maintenance mode", "Unavailable")
            self._job(name, version)
            del state.families[name][version]
            self._revision(name, operation="delete", by=user.username, summary={"version": version})
            self._event("job_deleted", user.username, name, version)
            return self._deployment(
                kind="delete", name=name, version=version, by=user.username, status="done"
            )

        @api.post("/job/{name}/{version}/redeploy")
        async def redeploy(name: str, version: str, request: Request) -> dict[str, Any]:
            user = self._user(request)
            self._job(name, version)
            deployment = self._deployment(
                kind="redeploy", name=name, version=version, by=user.username, status="done"
            )
            self._event("job_redeployed", user.username, name, version)
            return {"id": deployment["id"]}

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
            return [self._public(r) for r in reversed(state.revisions[name])]

        @api.post("/job_family/{name}/rollback")
        async def rollback(name: str, request: Request, body: dict[str, Any]) -> dict[str, Any]:
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
                deployment = self._deployment(
                    kind="preview", name=name, version=None, by=user.username, status="done", preview=plan
                )
                return JSONResponse(deployment, status_code=202)
            state.families[name] = copy.deepcopy(target["_jobs"])
            self._revision(name, operation="rollback", by=user.username, summary={"to_revision": number})
            deployment = self._deployment(
                kind="rollback", name=name, version=None, by=user.username, status="done", preview=plan
            )
            self._event("job_rolled_back", user.username, name, None, to_revision=number)
            return JSONResponse(deployment, status_code=202)

        # Deployments and audit -----------------------------------------------------------------
        @api.get("/deploy")
        async def deployments(request: Request, limit: int = 100) -> list[dict[str, Any]]:
            self._user(request)
            return list(reversed(state.deployments.values()))[:limit]

        @api.get("/deploy/{deployment_id}")
        async def deployment(deployment_id: str, request: Request) -> dict[str, Any]:
            self._user(request)
            if deployment_id not in state.deployments:
                raise not_found(f"deployment {deployment_id} not found")
            return state.deployments[deployment_id]

        @api.get("/audit/activity")
        async def activity(
            request: Request,
            job_name: str | None = None,
            job_version: str | None = None,
            related_to_me: bool = False,
        ) -> list[dict[str, Any]]:
            user = self._user(request)
            events = [
                e
                for e in reversed(state.events)
                if (not job_name or e["job_name"] == job_name)
                and (not job_version or e["job_version"] == job_version)
                and (not related_to_me or user.username in (e["username_executor"], e["username_subject"]))
            ]
            return events

        # Permissions, ESCs -------------------------------------------------------------------
        def grant(
            subject_kind: str,
            subject_name: str,
            scope: str,
            family: str | None = None,
            version: str | None = None,
            endpoint: str | None = None,
        ) -> dict[str, Any]:
            permission = {
                "id": next(self._ids),
                "subject_kind": subject_kind,
                "subject_name": subject_name,
                "scope": scope,
                "job_family": family,
                "job_version": version,
                "endpoint": endpoint,
            }
            state.permissions[permission["id"]] = permission
            return permission

        @api.get("/auth/permissions")
        async def permissions(
            request: Request, subject_kind: str | None = None, subject_name: str | None = None
        ) -> list[dict[str, Any]]:
            self._staff(request)
            return [
                p
                for p in state.permissions.values()
                if (not subject_kind or p["subject_kind"] == subject_kind)
                and (not subject_name or p["subject_name"] == subject_name)
            ]

        @api.post("/auth/permissions", status_code=201)
        async def add_permission(request: Request, body: dict[str, Any]) -> dict[str, Any]:
            self._staff(request)
            if body.get("scope") not in SCOPES:
                raise FakeError(422, "scope: not a valid scope", "InvalidInput")
            return grant(
                body["subject_kind"],
                body["subject_name"],
                body["scope"],
                body.get("job_family"),
                body.get("job_version"),
                body.get("endpoint"),
            )

        @api.delete("/auth/permissions/{permission_id}")
        async def delete_permission(permission_id: int, request: Request) -> dict[str, str]:
            self._staff(request)
            if state.permissions.pop(permission_id, None) is None:
                raise not_found(f"permission {permission_id} was not found")
            return {"message": "permission revoked"}

        @api.post("/auth/allow/job_family/{source}/job/{target}/scope/{scope}")
        async def allow_family(source: str, target: str, scope: str, request: Request) -> dict[str, Any]:
            self._staff(request)
            return grant("job_family", source, scope, target)

        @api.post("/auth/allow/esc/{esc_id}/job/{family}/scope/{scope}")
        async def allow_esc(esc_id: str, family: str, scope: str, request: Request) -> dict[str, Any]:
            self._staff(request)
            return grant("esc", esc_id, scope, family)

        @api.get("/escs")
        async def escs(request: Request) -> list[dict[str, Any]]:
            self._staff(request)
            return list(state.escs.values())

        @api.post("/escs")
        async def create_esc(request: Request, body: dict[str, Any]) -> dict[str, Any]:
            self._staff(request)
            esc = {"id": f"esc-{next(self._ids)}", "name": body["name"]}
            state.escs[esc["id"]] = esc
            state.esc_tokens[esc["id"]] = []
            return esc

        @api.get("/escs/{esc_id}/auth_data")
        async def esc_auth(esc_id: str, request: Request) -> dict[str, Any]:
            self._staff(request)
            if esc_id not in state.escs:
                raise not_found(f"ESC {esc_id} not found")
            return {**state.escs[esc_id], "tokens": state.esc_tokens[esc_id]}

        @api.post("/escs/{esc_id}/auth_token", status_code=201)
        async def esc_token(esc_id: str, request: Request, body: dict[str, Any]) -> dict[str, Any]:
            self._staff(request)
            days = body.get("expiry_days")
            token = {
                "id": next(self._ids),
                "token": "esc-" + secrets.token_urlsafe(16),
                "active": True,
                "expiry_time": int(time.time()) + 86400 * days if days else None,
                "last_use_time": None,
                "create_time": int(time.time()),
                "description": body.get("description"),
            }
            state.esc_tokens[esc_id].append(token)
            return token

        @api.delete("/escs/{esc_id}/auth_token/{token_id}")
        async def revoke_esc_token(esc_id: str, token_id: int, request: Request) -> None:
            self._staff(request)
            for token in state.esc_tokens.get(esc_id, []):
                if token["id"] == token_id:
                    token["active"] = False

        # Plugins, settings -----------------------------------------------------------------
        @api.get("/plugin")
        async def plugins(request: Request) -> list[dict[str, Any]]:
            self._user(request)
            return state.plugins

        @api.post("/plugin/upload", status_code=201)
        async def upload(
            request: Request,
            file: UploadFile = File(...),  # noqa: B008 - FastAPI's way to declare a form file
            replace: bool = False,
        ) -> dict[str, Any]:
            user = self._staff(request)
            stem = (file.filename or "plugin.zip").removesuffix(".zip")
            name, _, version = stem.partition("-")
            content = await file.read()
            if not content.startswith(b"PK"):
                raise invalid("plugin: the file is not a ZIP archive (accepted: a plugin ZIP)")
            plugin = {
                "name": name,
                "version": version or "0.0.1",
                "category": "core",
                "url": None,
                "size": len(content),
                "sha256": "0" * 64,
                "uploaded_by": user.username,
                "uploaded_at": int(time.time()),
            }
            state.plugins.append(plugin)
            return plugin

        @api.delete("/plugin/{name}/{version}")
        async def delete_plugin(name: str, version: str, request: Request) -> None:
            self._staff(request)
            state.plugins[:] = [p for p in state.plugins if (p["name"], p["version"]) != (name, version)]

        @api.get("/settings")
        async def maintenance(request: Request) -> dict[str, Any]:
            self._user(request)
            return {"maintenance_mode": state.maintenance_mode}

        @api.put("/settings")
        async def set_maintenance(request: Request, body: dict[str, Any]) -> dict[str, Any]:
            self._staff(request)
            state.maintenance_mode = bool(body.get("maintenance_mode"))
            return {"maintenance_mode": state.maintenance_mode}

        # Pub's single auth question ------------------------------------------------------------
        @api.get("/auth/can-call-job/{name}/{version}/{path:path}")
        async def can_call(name: str, version: str, path: str, request: Request) -> dict[str, Any]:
            sent = request.headers.get("X-Racetrack-Internal-Auth")
            if self.internal_token is not None and sent != self.internal_token:
                raise unauthenticated("header X-Racetrack-Internal-Auth: missing or wrong internal token")
            job = self._job(name, version)
            if state.maintenance_mode:
                raise FakeError(503, "Racetrack is in maintenance mode", "Unavailable")
            if path.strip("/") in ("health", "live", "ready"):
                caller = None
            else:
                caller = f"User {self._user(request).username}"
            return {
                "job": {k: job[k] for k in ("name", "version", "status", "internal_name")},
                "caller": caller,
                "remote_gateway_url": None,
                "remote_gateway_token": None,
            }

        return api
