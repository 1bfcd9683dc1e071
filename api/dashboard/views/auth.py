"""Register, log in, log out, and the profile (token, `racetrack login` command, password)."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api.dashboard.csrf import check_csrf
from api.dashboard.rendering import render
from api.dashboard.session import (
    User,
    clear_auth_cookie,
    current_user,
    flash,
    form,
    lifecycle,
    page,
    redirect,
    set_auth_cookie,
)
from api.errors import PlatformError, http_status

__all__ = ["routes"]

PASSWORD_RULES = (
    "at least 8 characters",
    "not only digits",
    "not one of the commonly used passwords",
)
INACTIVE_HINT = "Your account is not active yet: wait till a Racetrack admin activates it, then log in."


def _safe_next(target: str | None) -> str | None:
    """Only paths of this dashboard are followed after login, never another site, nor another path of
    this host by way of a dot-segment the browser would resolve (`/dashboard/../pub/...`)."""
    if not target or "\\" in target or not (target == "/dashboard" or target.startswith("/dashboard/")):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        return None
    return target


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def login_page(request: Request) -> Response:
    if await current_user(request) is not None:
        return redirect(request, "jobs")
    return render(request, "login.html", next=request.query_params.get("next", ""))


async def login_submit(request: Request) -> Response:
    data = await request.form()
    check_csrf(request, data)
    username = str(data.get("username", "")).strip()
    password = str(data.get("password", ""))
    next_path = _safe_next(str(data.get("next", "")))
    if not username or not password:
        return render(
            request, "login.html", 400, error="Enter your username and password.", username=username
        )
    try:
        profile = await lifecycle(request).login(username, password, client_address=_address(request))
    except PlatformError as exc:
        message = exc.message
        lowered = message.lower()
        hint = INACTIVE_HINT if "activ" in lowered and "wait" not in lowered else None
        return render(
            request,
            "login.html",
            http_status(exc),
            error=message,
            hint=hint,
            username=username,
            next=next_path,
        )
    response = RedirectResponse(next_path or str(request.app.url_path_for("jobs")), status_code=303)
    set_auth_cookie(request, response, profile["token"])
    return response


async def register_page(request: Request) -> Response:
    return render(request, "register.html", rules=PASSWORD_RULES)


async def register_submit(request: Request) -> Response:
    data = await request.form()
    check_csrf(request, data)
    username = str(data.get("username", "")).strip()
    password = str(data.get("password", ""))
    confirm = str(data.get("password_confirm", ""))

    def again(message: str, status: int) -> Response:
        return render(
            request, "register.html", status, error=message, username=username, rules=PASSWORD_RULES
        )

    if "@" not in username:
        return again("The username must be your email address, e.g. alice@example.com.", 400)
    if password != confirm:
        return again("The two passwords differ: type the same password twice.", 400)
    try:
        await lifecycle(request).register(username, password, client_address=_address(request))
    except PlatformError as exc:
        return again(exc.message, http_status(exc))
    return render(request, "registered.html", username=username)


@form(login=False)
async def logout(request: Request, user: User | None, data: FormData) -> Response:
    response = redirect(request, "login")
    clear_auth_cookie(request, response)
    return flash(request, response, "You are logged out.")


@page()
async def profile(request: Request, user: User) -> Response:
    lifecycle_url = request.app.state.settings.effective_lifecycle_url
    command = f"racetrack login {user.token} --remote {lifecycle_url}"
    return render(request, "profile.html", command=command, lifecycle_url=lifecycle_url)


@form()
async def regenerate_token(request: Request, user: User, data: FormData) -> Response:
    result = await lifecycle(request).regenerate_token(user.token)
    new_token = result.get("new_token") if isinstance(result, dict) else None
    response = redirect(request, "profile")
    if new_token:
        # The old token no longer works, so the session moves to the new one.
        set_auth_cookie(request, response, new_token)
    return flash(request, response, "A new token was generated; the old one no longer works.", "success")


@form()
async def change_password(request: Request, user: User, data: FormData) -> Response:
    old = str(data.get("old_password", ""))
    new = str(data.get("new_password", ""))
    if new != str(data.get("new_password_confirm", "")):
        return flash(request, redirect(request, "profile"), "The two new passwords differ.", "error")
    try:
        result = await lifecycle(request).change_password(user.token, old, new)
    except PlatformError as exc:
        return flash(request, redirect(request, "profile"), exc.message, "error")
    response = redirect(request, "profile")
    new_token = result.get("new_token") if isinstance(result, dict) else None
    if new_token:
        # The password change revoked the old token, so the session moves to the new one.
        set_auth_cookie(request, response, new_token)
    return flash(request, response, "Your password was changed; your old tokens no longer work.", "success")


routes = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login_submit, methods=["POST"], name="login_submit"),
    Route("/register", register_page, methods=["GET"], name="register"),
    Route("/register", register_submit, methods=["POST"], name="register_submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/profile", profile, methods=["GET"], name="profile"),
    Route("/profile/token", regenerate_token, methods=["POST"], name="regenerate_token"),
    Route("/profile/password", change_password, methods=["POST"], name="change_password"),
]
login_submit.csrf_protected = True  # type: ignore[attr-defined]
register_submit.csrf_protected = True  # type: ignore[attr-defined]
