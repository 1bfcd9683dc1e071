"""Jobs: the list grouped by family (with live updates), a job's page, logs, redeploy and delete."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

import yaml
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api.dashboard.rendering import render
from api.dashboard.session import User, flash, form, lifecycle, page, redirect
from api.errors import PlatformError

__all__ = ["routes", "job_summary", "JOB_FILTERS"]

JOB_FILTERS = ("name", "version", "owner", "job_type", "target", "status")
STATUSES = ("running", "starting", "error", "lost", "orphaned")
LOG_TAIL = 500


def _manifest(job: dict[str, Any]) -> dict[str, Any]:
    """The job's manifest as a mapping: `manifest` (upstream) or the parsed `manifest_yaml`."""
    manifest = job.get("manifest")
    if isinstance(manifest, dict):
        return manifest
    text = job.get("manifest_yaml")
    if isinstance(text, str) and text.strip():
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def job_summary(job: dict[str, Any]) -> dict[str, Any]:
    """The fields the pages show, read from a lifecycle job (upstream JobDto field names)."""
    manifest = _manifest(job)
    return {
        "name": job.get("name", ""),
        "version": job.get("version", ""),
        "status": (job.get("status") or "unknown").lower(),
        "owner": job.get("owner_email") or manifest.get("owner_email") or "",
        "job_type": job.get("job_type_version") or manifest.get("jobtype") or manifest.get("lang") or "",
        "target": job.get("infrastructure_target") or manifest.get("infrastructure_target") or "",
        "deployed_by": job.get("deployed_by") or "",
        "create_time": job.get("create_time"),
        "update_time": job.get("update_time"),
        "last_call_time": job.get("last_call_time"),
    }


def _filters(request: Request) -> dict[str, str]:
    return {key: request.query_params.get(key, "").strip() for key in JOB_FILTERS}


def _matches(job: dict[str, Any], filters: dict[str, str]) -> bool:
    for key, wanted in filters.items():
        if not wanted:
            continue
        value = str(job.get(key) or "").lower()
        if key == "status":
            if value != wanted.lower():
                return False
        elif wanted.lower() not in value:
            return False
    return True


def _families(jobs: list[dict[str, Any]], filters: dict[str, str]) -> OrderedDict[str, list[dict[str, Any]]]:
    summaries = sorted((job_summary(j) for j in jobs), key=lambda j: (j["name"], _version_key(j["version"])))
    families: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for job in summaries:
        if _matches(job, filters):
            families.setdefault(job["name"], []).insert(0, job)  # newest version first
    return families


def _version_key(version: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for piece in version.replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


async def _list_context(request: Request, user: User) -> dict[str, Any]:
    filters = _filters(request)
    jobs = await lifecycle(request).jobs(user.token)
    families = _families(jobs, filters)
    return {
        "families": families,
        "filters": filters,
        "statuses": STATUSES,
        "count": sum(len(v) for v in families.values()),
        "total": len(jobs),
        "query": request.url.query,
    }


@page()
async def jobs_page(request: Request, user: User) -> Response:
    return render(request, "jobs.html", **await _list_context(request, user))


@page()
async def jobs_table(request: Request, user: User) -> Response:
    """The family table alone, fetched every few seconds by the list page's live update."""
    return render(request, "_jobs_table.html", fragment=True, **await _list_context(request, user))


def _links(request: Request, job: dict[str, Any], name: str, version: str) -> dict[str, str]:
    """The job's pub URL for API callers (as the lifecycle reports it, else from settings), and its
    pages for the browser, which open on the job's own host through `open_job`."""
    pub = request.app.state.settings.effective_pub_url.rstrip("/")
    base = str(job.get("pub_url") or f"{pub}/job/{name}/{version}").rstrip("/")
    opener = str(request.app.url_path_for("open_job", name=name))
    page = f"/pub/job/{name}/{version}"
    return {
        "pub": f"{base}/",
        "open": f"{opener}?{urlencode({'path': f'{page}/'})}",
        "swagger": f"{opener}?{urlencode({'path': f'{page}/docs'})}",
    }


@page()
async def open_job(request: Request, user: User) -> Response:
    """Sends the browser to a page of the job on the job's own host, with a one-time ticket that pub
    trades for a session there: the job's pages never share an origin with the dashboard, and no
    token travels in a URL. Pub sends browsers without a session here too."""
    name = request.path_params["name"]
    path = request.query_params.get("path") or f"/pub/job/{name}/latest/"
    answer = await lifecycle(request).job_ticket(user.token, name, path)
    response = RedirectResponse(str(answer["url"]), status_code=303)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    return response


@page()
async def job_page(request: Request, user: User) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    job = await lifecycle(request).job(user.token, name, version)
    revisions_error: str | None = None
    try:
        revisions = await lifecycle(request).revisions(user.token, name)
    except PlatformError as exc:
        revisions, revisions_error = [], exc.message
    manifest = job.get("manifest_yaml") or job.get("manifest")
    return render(
        request,
        "job.html",
        job=job,
        summary=job_summary(job),
        manifest=manifest,
        links=_links(request, job, job.get("name", name), job.get("version", version)),
        revisions=revisions[:5],
        revisions_error=revisions_error,
    )


@page()
async def job_logs(request: Request, user: User) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    kind = "build" if request.query_params.get("kind") == "build" else "runtime"
    try:
        tail = max(0, min(int(request.query_params.get("tail", LOG_TAIL)), 100_000))
    except ValueError:
        tail = LOG_TAIL
    try:
        text = await lifecycle(request).job_logs(user.token, name, version, build=kind == "build", tail=tail)
        error = None
    except PlatformError as exc:
        text, error = "", exc.message
    return render(
        request, "logs.html", name=name, version=version, kind=kind, text=text, error=error, tail=tail
    )


@page()
async def confirm_redeploy(request: Request, user: User) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    return render(request, "confirm_redeploy.html", name=name, version=version)


@form()
async def redeploy(request: Request, user: User, data: FormData) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    try:
        result = await lifecycle(request).redeploy(user.token, name, version)
    except PlatformError as exc:
        return flash(request, redirect(request, "job", name=name, version=version), exc.message, "error")
    if isinstance(result, dict) and result.get("id"):
        response = redirect(request, "deployment", deployment_id=str(result["id"]))
    else:
        response = redirect(request, "job", name=name, version=version)
    return flash(request, response, f"Redeploy of {name} {version} started.", "success")


@page()
async def confirm_delete(request: Request, user: User) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    return render(request, "confirm_delete.html", name=name, version=version)


@form()
async def delete(request: Request, user: User, data: FormData) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    if str(data.get("confirm_name", "")).strip() != name:
        message = f"Type the job's name ({name}) to confirm the deletion."
        return render(request, "confirm_delete.html", 400, name=name, version=version, error=message)
    try:
        await lifecycle(request).delete_job(user.token, name, version)
    except PlatformError as exc:
        return flash(request, redirect(request, "job", name=name, version=version), exc.message, "error")
    return flash(request, redirect(request, "jobs"), f"Job {name} {version} was deleted.", "success")


routes = [
    Route("/jobs", jobs_page, methods=["GET"], name="jobs"),
    Route("/jobs/table", jobs_table, methods=["GET"], name="jobs_table"),
    Route("/jobs/{name}/{version}", job_page, methods=["GET"], name="job"),
    Route("/jobs/{name}/{version}/logs", job_logs, methods=["GET"], name="job_logs"),
    Route("/jobs/{name}/{version}/redeploy", confirm_redeploy, methods=["GET"], name="confirm_redeploy"),
    Route("/jobs/{name}/{version}/redeploy", redeploy, methods=["POST"], name="redeploy"),
    Route("/jobs/{name}/{version}/delete", confirm_delete, methods=["GET"], name="confirm_delete"),
    Route("/jobs/{name}/{version}/delete", delete, methods=["POST"], name="delete"),
    Route("/open/{name}", open_job, methods=["GET"], name="open_job"),
]
