"""Deployments (recent attempts, phases, errors, durations) and the activity (audit) log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.dashboard.rendering import render
from api.dashboard.session import User, lifecycle, page

__all__ = ["routes"]

ACTIVITY_FILTERS = ("job_name", "job_version", "event_type", "username")


def _deployment_job(deployment: dict[str, Any]) -> tuple[str, str]:
    given = deployment.get("job")
    job: dict[str, Any] = given if isinstance(given, dict) else {}
    name = deployment.get("job_name") or job.get("name") or ""
    version = deployment.get("job_version") or job.get("version") or ""
    return name, version


@page()
async def deployments(request: Request, user: User) -> Response:
    status = request.query_params.get("status", "")
    rows = await lifecycle(request).deployments(user.token, limit=100)
    if status:
        rows = [row for row in rows if row.get("status") == status]
    for row in rows:
        row["_job"] = _deployment_job(row)
    return render(request, "deployments.html", deployments=rows, status=status)


@page()
async def deployment(request: Request, user: User) -> Response:
    deployment_id = request.path_params["deployment_id"]
    row = await lifecycle(request).deployment(user.token, deployment_id)
    rollback = None
    family = request.query_params.get("rollback_family")
    if family:
        rollback = {
            "family": family,
            "to_revision": request.query_params.get("rollback_to", ""),
            "version": request.query_params.get("rollback_version", ""),
        }
    return render(request, "deployment.html", deployment=row, job=_deployment_job(row), rollback=rollback)


@page()
async def activity(request: Request, user: User) -> Response:
    filters = {key: request.query_params.get(key, "").strip() for key in ACTIVITY_FILTERS}
    related_to_me = request.query_params.get("related_to_me") == "on"
    events = await lifecycle(request).activity(
        user.token,
        job_name=filters["job_name"] or None,
        job_version=filters["job_version"] or None,
        related_to_me="true" if related_to_me else None,
    )
    event_types = sorted({str(e.get("event_type")) for e in events if e.get("event_type")})
    if filters["event_type"]:
        events = [e for e in events if e.get("event_type") == filters["event_type"]]
    if filters["username"]:
        wanted = filters["username"].lower()
        events = [
            e
            for e in events
            if wanted in str(e.get("username_executor") or "").lower()
            or wanted in str(e.get("username_subject") or "").lower()
        ]
    return render(
        request,
        "activity.html",
        events=events,
        filters=filters,
        related_to_me=related_to_me,
        event_types=event_types or EVENT_TYPES,
    )


EVENT_TYPES = [
    "job_deployed",
    "job_redeployed",
    "job_deleted",
    "job_moved",
    "job_rolled_back",
    "deployment_failed",
    "plugin_installed",
    "plugin_uninstalled",
]

routes = [
    Route("/deployments", deployments, methods=["GET"], name="deployments"),
    Route("/deployments/{deployment_id}", deployment, methods=["GET"], name="deployment"),
    Route("/activity", activity, methods=["GET"], name="activity"),
]
