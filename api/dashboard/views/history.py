"""A job family's revision history with diffs, and rollback: preview first, then confirm."""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import urlencode

import yaml
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.dashboard.rendering import render
from api.dashboard.session import User, flash, form, lifecycle, page, redirect
from api.errors import InvalidInput, PlatformError

__all__ = ["routes", "revision_diffs"]

# Where a revision may carry the family's desired state; the first present one is compared.
_STATE_KEYS = ("desired", "desired_state", "spec", "state", "manifests")


def _state_text(revision: dict[str, Any]) -> str:
    for key in _STATE_KEYS:
        if revision.get(key) is not None:
            state = revision[key]
            break
    else:
        state = {"versions": revision.get("versions") or []}
    if isinstance(state, str):
        return state if state.endswith("\n") else state + "\n"
    return yaml.safe_dump(state, sort_keys=True, default_flow_style=False)


def revision_diffs(revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each revision (newest first) with `diff`: what changed from the revision before it."""
    rows = []
    for index, revision in enumerate(revisions):
        if isinstance(revision.get("diff"), str):
            diff = revision["diff"]
        else:
            older = revisions[index + 1] if index + 1 < len(revisions) else None
            before = _state_text(older).splitlines(keepends=True) if older else []
            after = _state_text(revision).splitlines(keepends=True)
            number = revision.get("number")
            diff = "".join(
                difflib.unified_diff(
                    before,
                    after,
                    fromfile=f"revision {older.get('number')}" if older else "(nothing)",
                    tofile=f"revision {number}",
                )
            )
        rows.append({**revision, "diff": diff, "is_current": index == 0})
    return rows


@page()
async def history(request: Request, user: User) -> Response:
    family = request.path_params["family"]
    revisions = await lifecycle(request).revisions(user.token, family)
    return render(request, "history.html", family=family, revisions=revision_diffs(revisions))


def _target(data: FormData) -> tuple[int | None, str | None]:
    raw = str(data.get("to_revision", "")).strip()
    version = str(data.get("version", "")).strip() or None
    if raw:
        try:
            return int(raw), version
        except ValueError as exc:
            raise InvalidInput(f"to_revision must be a revision number, not {raw!r}") from exc
    if version is None:
        raise InvalidInput("choose the revision (or the version) to roll back to")
    return None, version


@form()
async def rollback_preview(request: Request, user: User, data: FormData) -> Response:
    """Asks the lifecycle for a plan of the rollback; the operation page then offers to confirm."""
    family = request.path_params["family"]
    to_revision, version = _target(data)
    try:
        operation = await lifecycle(request).rollback(
            user.token, family, to_revision=to_revision, version=version, preview=True
        )
    except PlatformError as exc:
        return flash(request, redirect(request, "history", family=family), exc.message, "error")
    response = redirect(request, "deployment", deployment_id=str(operation["id"]))
    query = {"rollback_family": family, "rollback_to": to_revision, "rollback_version": version}
    response.headers["location"] += "?" + urlencode({k: v for k, v in query.items() if v is not None})
    return response


@form()
async def rollback(request: Request, user: User, data: FormData) -> Response:
    family = request.path_params["family"]
    to_revision, version = _target(data)
    try:
        operation = await lifecycle(request).rollback(
            user.token, family, to_revision=to_revision, version=version, preview=False
        )
    except PlatformError as exc:
        return flash(request, redirect(request, "history", family=family), exc.message, "error")
    target = f"revision {to_revision}" if to_revision is not None else f"version {version}"
    response = redirect(request, "deployment", deployment_id=str(operation["id"]))
    return flash(request, response, f"Rollback of {family} to {target} started.", "success")


routes = [
    Route("/families/{family}/history", history, methods=["GET"], name="history"),
    Route("/families/{family}/rollback/preview", rollback_preview, methods=["POST"], name="rollback_preview"),
    Route("/families/{family}/rollback", rollback, methods=["POST"], name="rollback"),
]
