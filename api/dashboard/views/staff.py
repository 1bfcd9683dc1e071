"""Staff pages: users, External Service Consumers and their tokens, permissions, plugins, maintenance.

Every view here is declared with `staff=True`: a non-staff user gets 403 before the lifecycle is
asked anything (the lifecycle checks again on its side).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.dashboard.rendering import render
from api.dashboard.session import User, flash, form, lifecycle, page, redirect
from api.errors import InvalidInput, PlatformError
from core.protocol import Scope

__all__ = ["routes", "SCOPES"]

SCOPES = tuple(scope.value for scope in Scope)
_USER_ACTIONS: dict[str, tuple[dict[str, bool], str]] = {
    "activate": ({"is_active": True}, "activated"),
    "deactivate": ({"is_active": False}, "deactivated"),
    "make_staff": ({"is_staff": True}, "made staff"),
    "revoke_staff": ({"is_staff": False}, "no longer staff"),
}
MAX_PLUGIN_BYTES = 200 * 1024 * 1024


def _field(data: FormData, name: str, *, required: bool = True) -> str:
    value = str(data.get(name, "") or "").strip()
    if required and not value:
        raise InvalidInput(f"the field {name!r} is required")
    return value


def _scope(data: FormData) -> str:
    scope = _field(data, "scope")
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}: choose one of {', '.join(SCOPES)}")
    return scope


async def _done(request: Request, back: Response, action: Any, success: str) -> Response:
    """Runs a lifecycle call and reports its outcome on the page the user goes back to."""
    try:
        await action
    except PlatformError as exc:
        return flash(request, back, exc.message, "error")
    return flash(request, back, success, "success")


# Users ----------------------------------------------------------------------------------------


@page(staff=True)
async def users(request: Request, user: User) -> Response:
    rows = await lifecycle(request).users(user.token)
    pending = [row for row in rows if not row.get("is_active")]
    return render(request, "staff/users.html", users=rows, pending=pending)


@form(staff=True)
async def update_user(request: Request, user: User, data: FormData) -> Response:
    username = request.path_params["username"]
    action = _field(data, "action")
    if action not in _USER_ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    changes, verb = _USER_ACTIONS[action]
    call = lifecycle(request).update_user(user.token, username, changes)
    return await _done(request, redirect(request, "staff_users"), call, f"User {username} {verb}.")


@page(staff=True)
async def user_permissions(request: Request, user: User) -> Response:
    username = request.path_params["username"]
    grants = await lifecycle(request).permissions(user.token, subject_kind="user", subject_name=username)
    return render(request, "staff/user.html", username=username, permissions=grants, scopes=SCOPES)


@form(staff=True)
async def grant_user_permission(request: Request, user: User, data: FormData) -> Response:
    username = request.path_params["username"]
    grant = {
        "subject_kind": "user",
        "subject_name": username,
        "scope": _scope(data),
        "job_family": _field(data, "job_family", required=False) or None,
        "job_version": _field(data, "job_version", required=False) or None,
        "endpoint": _field(data, "endpoint", required=False) or None,
    }
    back = redirect(request, "staff_user", username=username)
    return await _done(request, back, lifecycle(request).grant(user.token, grant), "Permission granted.")


@form(staff=True)
async def revoke_permission(request: Request, user: User, data: FormData) -> Response:
    permission_id = request.path_params["permission_id"]
    back_to = _field(data, "back", required=False)
    if not back_to.startswith("/dashboard/staff/"):
        back_to = str(request.app.url_path_for("staff_permissions"))
    back = redirect(request, "staff_permissions")
    back.headers["location"] = back_to
    return await _done(
        request, back, lifecycle(request).revoke(user.token, permission_id), "Permission revoked."
    )


# Permissions between job families --------------------------------------------------------


@page(staff=True)
async def permissions(request: Request, user: User) -> Response:
    grants = await lifecycle(request).permissions(user.token, subject_kind="job_family")
    return render(request, "staff/permissions.html", permissions=grants, scopes=SCOPES)


@form(staff=True)
async def allow_family(request: Request, user: User, data: FormData) -> Response:
    source, target = _field(data, "source"), _field(data, "target")
    scope = _scope(data)
    call = lifecycle(request).allow_family(user.token, source, target, scope)
    message = f"Job family {source} may now {scope} on {target}."
    return await _done(request, redirect(request, "staff_permissions"), call, message)


# External Service Consumers --------------------------------------------------------------


@page(staff=True)
async def escs(request: Request, user: User) -> Response:
    rows = await lifecycle(request).escs(user.token)
    return render(request, "staff/escs.html", escs=rows)


@form(staff=True)
async def create_esc(request: Request, user: User, data: FormData) -> Response:
    name = _field(data, "name")
    try:
        esc = await lifecycle(request).create_esc(user.token, name)
    except PlatformError as exc:
        return flash(request, redirect(request, "staff_escs"), exc.message, "error")
    back = (
        redirect(request, "staff_esc", esc_id=str(esc.get("id")))
        if esc.get("id")
        else redirect(request, "staff_escs")
    )
    return flash(request, back, f"External Service Consumer {name} created.", "success")


@page(staff=True)
async def esc(request: Request, user: User) -> Response:
    esc_id = request.path_params["esc_id"]
    auth = await lifecycle(request).esc_auth_data(user.token, esc_id)
    grants = await lifecycle(request).permissions(user.token, subject_kind="esc", subject_name=esc_id)
    tokens = auth.get("tokens", []) if isinstance(auth, dict) else []
    return render(
        request, "staff/esc.html", esc_id=esc_id, esc=auth, tokens=tokens, permissions=grants, scopes=SCOPES
    )


@form(staff=True)
async def create_esc_token(request: Request, user: User, data: FormData) -> Response:
    esc_id = request.path_params["esc_id"]
    days = _field(data, "expiry_days", required=False)
    if days and not days.isdigit():
        raise InvalidInput("expiry_days must be a whole number of days (empty: never expires)")
    description = _field(data, "description", required=False) or None
    call = lifecycle(request).create_esc_token(
        user.token, esc_id, expiry_days=int(days) if days else None, description=description
    )
    return await _done(
        request, redirect(request, "staff_esc", esc_id=esc_id), call, "A new token was created."
    )


@form(staff=True)
async def revoke_esc_token(request: Request, user: User, data: FormData) -> Response:
    esc_id, token_id = request.path_params["esc_id"], request.path_params["token_id"]
    call = lifecycle(request).revoke_esc_token(user.token, esc_id, token_id)
    return await _done(request, redirect(request, "staff_esc", esc_id=esc_id), call, "The token was revoked.")


@form(staff=True)
async def allow_esc(request: Request, user: User, data: FormData) -> Response:
    esc_id = request.path_params["esc_id"]
    family, scope = _field(data, "job_family"), _scope(data)
    call = lifecycle(request).allow_esc(user.token, esc_id, family, scope)
    back = redirect(request, "staff_esc", esc_id=esc_id)
    return await _done(request, back, call, f"The consumer may now {scope} on {family}.")


# Plugins -----------------------------------------------------------------------------------


@page(staff=True)
async def plugins(request: Request, user: User) -> Response:
    rows = await lifecycle(request).plugins(user.token)
    return render(request, "staff/plugins.html", plugins=rows)


@form(staff=True)
async def upload_plugin(request: Request, user: User, data: FormData) -> Response:
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("choose a plugin ZIP file to upload")
    if not upload.filename.endswith(".zip"):
        raise InvalidInput(f"{upload.filename} is not a ZIP file: a plugin is a .zip archive")
    content = await upload.read(MAX_PLUGIN_BYTES + 1)
    if len(content) > MAX_PLUGIN_BYTES:
        raise InvalidInput("the plugin is larger than 200 MiB")
    replace = data.get("replace") == "on"
    call = lifecycle(request).upload_plugin(user.token, upload.filename, content, replace=replace)
    return await _done(
        request, redirect(request, "staff_plugins"), call, f"Plugin {upload.filename} uploaded."
    )


@form(staff=True)
async def delete_plugin(request: Request, user: User, data: FormData) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    call = lifecycle(request).delete_plugin(user.token, name, version)
    return await _done(request, redirect(request, "staff_plugins"), call, f"Plugin {name} {version} deleted.")


# Maintenance mode ------------------------------------------------------------------------


@page(staff=True)
async def maintenance(request: Request, user: User) -> Response:
    enabled = await lifecycle(request).maintenance(user.token)
    return render(request, "staff/maintenance.html", enabled=enabled)


@form(staff=True)
async def set_maintenance(request: Request, user: User, data: FormData) -> Response:
    enabled = _field(data, "enabled") == "true"
    call = lifecycle(request).set_maintenance(user.token, enabled)
    message = (
        "Maintenance mode is on: deploys, deletes and job calls are refused."
        if enabled
        else ("Maintenance mode is off.")
    )
    return await _done(request, redirect(request, "staff_maintenance"), call, message)


routes = [
    Route("/staff/users", users, methods=["GET"], name="staff_users"),
    Route("/staff/users/{username}", user_permissions, methods=["GET"], name="staff_user"),
    Route("/staff/users/{username}", update_user, methods=["POST"], name="staff_update_user"),
    Route("/staff/users/{username}/permissions", grant_user_permission, methods=["POST"], name="staff_grant"),
    Route("/staff/permissions", permissions, methods=["GET"], name="staff_permissions"),
    Route("/staff/permissions", allow_family, methods=["POST"], name="staff_allow_family"),
    Route(
        "/staff/permissions/{permission_id}/revoke", revoke_permission, methods=["POST"], name="staff_revoke"
    ),
    Route("/staff/escs", escs, methods=["GET"], name="staff_escs"),
    Route("/staff/escs", create_esc, methods=["POST"], name="staff_create_esc"),
    Route("/staff/escs/{esc_id}", esc, methods=["GET"], name="staff_esc"),
    Route("/staff/escs/{esc_id}/tokens", create_esc_token, methods=["POST"], name="staff_create_esc_token"),
    Route(
        "/staff/escs/{esc_id}/tokens/{token_id}/revoke",
        revoke_esc_token,
        methods=["POST"],
        name="staff_revoke_esc_token",
    ),
    Route("/staff/escs/{esc_id}/allow", allow_esc, methods=["POST"], name="staff_allow_esc"),
    Route("/staff/plugins", plugins, methods=["GET"], name="staff_plugins"),
    Route("/staff/plugins", upload_plugin, methods=["POST"], name="staff_upload_plugin"),
    Route(
        "/staff/plugins/{name}/{version}/delete", delete_plugin, methods=["POST"], name="staff_delete_plugin"
    ),
    Route("/staff/maintenance", maintenance, methods=["GET"], name="staff_maintenance"),
    Route("/staff/maintenance", set_maintenance, methods=["POST"], name="staff_set_maintenance"),
]
