"""The dashboard's only way to the platform: the lifecycle REST API, called with the user's token.

Every path the dashboard relies on is spelled out in one method below, so the list in
`docs/dashboard.md` and this module can be checked against each other. Errors from the lifecycle
(`{"error": ..., "type": ...}`) come back as the `api.errors` class of their status code, so a view
can show the lifecycle's own message; a lifecycle that cannot be reached is `Unavailable`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from api.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    PlatformError,
    Unauthenticated,
    Unavailable,
    with_status,
)
from core.protocol import AUTH_HEADER

__all__ = ["LifecycleClient", "AUTH_HEADER"]


_ERRORS_BY_STATUS: dict[int, type[PlatformError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: AlreadyExists,
    422: InvalidInput,
    503: Unavailable,
}

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=10)


def _q(segment: str) -> str:
    return quote(str(segment), safe="")


def _error_from(response: httpx.Response) -> PlatformError:
    message = f"lifecycle answered {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            message = body["error"]
        elif isinstance(body.get("detail"), str):
            message = body["detail"]
        elif isinstance(body.get("detail"), list):  # FastAPI request validation errors
            message = "; ".join(
                str(item.get("msg", item)) for item in body["detail"] if isinstance(item, dict)
            )
    cls = _ERRORS_BY_STATUS.get(response.status_code, PlatformError)
    error = cls(message)
    if cls is PlatformError:
        with_status(error, response.status_code)  # e.g. 429: the page answers with the lifecycle's status
    return error


class LifecycleClient:
    """Calls `{lifecycle_url}/api/v1/...`, one instance per dashboard process.

    The token is passed per call (it belongs to the request's session, never to the client).
    `transport` lets tests put an in-process lifecycle app behind the client.
    """

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v1",
            transport=transport,
            timeout=DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        files: Any = None,
        expect_json: bool = True,
        client_address: str | None = None,
    ) -> Any:
        headers = {AUTH_HEADER: token} if token else {}
        if client_address:
            # The lifecycle limits logins and registrations per client address; it trusts this header from
            # the dashboard's address (uvicorn's FORWARDED_ALLOW_IPS), so each browser has its own count.
            headers["X-Forwarded-For"] = client_address
        if params:
            params = {k: v for k, v in params.items() if v not in (None, "")}
        try:
            response = await self._http.request(
                method, path, headers=headers, json=json, params=params, files=files
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"the lifecycle at {self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"the lifecycle at {self.base_url} cannot be reached: {exc}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        if not expect_json:
            return response.text
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call whose answer is a JSON object; anything else is the lifecycle's fault, said as such."""
        data = await self.request(method, path, **kwargs)
        if not isinstance(data, dict):
            raise PlatformError(f"the lifecycle answered {method} {path} with no JSON object")
        return data

    # Users and tokens ---------------------------------------------------------------------

    async def register(self, username: str, password: str, *, client_address: str | None = None) -> Any:
        body = {"username": username, "password": password}
        return await self.request("POST", "/users/register", json=body, client_address=client_address)

    async def login(
        self, username: str, password: str, *, client_address: str | None = None
    ) -> dict[str, Any]:
        body = {"username": username, "password": password}
        return await self._object("POST", "/users/login", json=body, client_address=client_address)

    async def whoami(self, token: str) -> dict[str, Any]:
        return await self._object("GET", "/users/validate_user_auth", token=token)

    async def change_password(self, token: str, old_password: str, new_password: str) -> Any:
        body = {"old_password": old_password, "new_password": new_password}
        return await self.request("PUT", "/users/change_password", token=token, json=body)

    async def regenerate_token(self, token: str) -> dict[str, Any]:
        return await self._object("POST", "/auth/token/user/regenerate", token=token)

    async def job_ticket(self, token: str, name: str, path: str) -> dict[str, Any]:
        """`{url, expires_in}`: the URL on the job's own host that opens `path` as this user, once."""
        body = {"job_name": name, "path": path}
        return await self._object("POST", "/auth/job-session/ticket", token=token, json=body)

    async def info(self, token: str | None) -> dict[str, Any]:
        return await self._object("GET", "/info", token=token)

    # Jobs -----------------------------------------------------------------------------------

    async def jobs(self, token: str) -> list[dict[str, Any]]:
        return await self.request("GET", "/job", token=token) or []

    async def job(self, token: str, name: str, version: str) -> dict[str, Any]:
        return await self._object("GET", f"/job/{_q(name)}/{_q(version)}", token=token)

    async def job_logs(self, token: str, name: str, version: str, *, build: bool, tail: int) -> str:
        kind = "build-logs" if build else "logs"
        path = f"/job/{_q(name)}/{_q(version)}/{kind}"
        data = await self.request("GET", path, token=token, params={"tail": tail})
        return str(data.get("logs", "")) if isinstance(data, dict) else str(data or "")

    async def redeploy(self, token: str, name: str, version: str) -> Any:
        return await self.request("POST", f"/job/{_q(name)}/{_q(version)}/redeploy", token=token)

    async def delete_job(self, token: str, name: str, version: str) -> Any:
        return await self.request("DELETE", f"/job/{_q(name)}/{_q(version)}", token=token)

    async def revisions(self, token: str, family: str) -> list[dict[str, Any]]:
        return await self.request("GET", f"/job_family/{_q(family)}/revisions", token=token) or []

    async def rollback(
        self, token: str, family: str, *, to_revision: int | None, version: str | None, preview: bool
    ) -> dict[str, Any]:
        body = {"to_revision": to_revision, "version": version, "preview": preview}
        return await self._object("POST", f"/job_family/{_q(family)}/rollback", token=token, json=body)

    # Deployments and activity -----------------------------------------------------------

    async def deployments(self, token: str, limit: int = 100) -> list[dict[str, Any]]:
        return await self.request("GET", "/deploy", token=token, params={"limit": limit}) or []

    async def deployment(self, token: str, deployment_id: str) -> dict[str, Any]:
        return await self._object("GET", f"/deploy/{_q(deployment_id)}", token=token)

    async def activity(self, token: str, **filters: Any) -> list[dict[str, Any]]:
        return await self.request("GET", "/audit/activity", token=token, params=filters) or []

    # Staff ------------------------------------------------------------------------------------

    async def users(self, token: str) -> list[dict[str, Any]]:
        return await self.request("GET", "/users", token=token) or []

    async def update_user(self, token: str, username: str, changes: dict[str, Any]) -> Any:
        return await self.request("PATCH", f"/users/{_q(username)}", token=token, json=changes)

    async def permissions(
        self, token: str, *, subject_kind: str | None = None, subject_name: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"subject_kind": subject_kind, "subject_name": subject_name}
        return await self.request("GET", "/auth/permissions", token=token, params=params) or []

    async def grant(self, token: str, grant: dict[str, Any]) -> Any:
        """`grant`: subject_kind (user, esc, job_family), subject_name, scope, and optionally
        job_family, job_version, endpoint."""
        return await self.request("POST", "/auth/permissions", token=token, json=grant)

    async def revoke(self, token: str, permission_id: str) -> Any:
        return await self.request("DELETE", f"/auth/permissions/{_q(permission_id)}", token=token)

    async def allow_family(self, token: str, source: str, target: str, scope: str) -> Any:
        path = f"/auth/allow/job_family/{_q(source)}/job/{_q(target)}/scope/{_q(scope)}"
        return await self.request("POST", path, token=token)

    async def escs(self, token: str) -> list[dict[str, Any]]:
        return await self.request("GET", "/escs", token=token) or []

    async def create_esc(self, token: str, name: str) -> dict[str, Any]:
        return await self._object("POST", "/escs", token=token, json={"name": name})

    async def esc_auth_data(self, token: str, esc_id: str) -> dict[str, Any]:
        return await self._object("GET", f"/escs/{_q(esc_id)}/auth_data", token=token)

    async def create_esc_token(
        self, token: str, esc_id: str, *, expiry_days: int | None = None, description: str | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"expiry_days": expiry_days, "description": description}.items() if v}
        return await self._object("POST", f"/escs/{_q(esc_id)}/auth_token", token=token, json=body)

    async def revoke_esc_token(self, token: str, esc_id: str, token_id: str) -> Any:
        return await self.request("DELETE", f"/escs/{_q(esc_id)}/auth_token/{_q(token_id)}", token=token)

    async def allow_esc(self, token: str, esc_id: str, family: str, scope: str) -> Any:
        path = f"/auth/allow/esc/{_q(esc_id)}/job/{_q(family)}/scope/{_q(scope)}"
        return await self.request("POST", path, token=token)

    async def plugins(self, token: str) -> list[dict[str, Any]]:
        return await self.request("GET", "/plugin", token=token) or []

    async def upload_plugin(self, token: str, filename: str, content: bytes, *, replace: bool = False) -> Any:
        files = {"file": (filename, content, "application/zip")}
        params = {"replace": "true"} if replace else None
        return await self.request("POST", "/plugin/upload", token=token, files=files, params=params)

    async def delete_plugin(self, token: str, name: str, version: str) -> Any:
        return await self.request("DELETE", f"/plugin/{_q(name)}/{_q(version)}", token=token)

    async def maintenance(self, token: str) -> bool:
        data = await self.request("GET", "/settings", token=token)
        return bool(data.get("maintenance_mode")) if isinstance(data, dict) else False

    async def set_maintenance(self, token: str, enabled: bool) -> Any:
        return await self.request("PUT", "/settings", token=token, json={"maintenance_mode": enabled})
