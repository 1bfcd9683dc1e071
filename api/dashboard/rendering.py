"""Templates and the helpers every view renders with (user, CSRF token, flash message, filters)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from api.dashboard import cookies
from api.dashboard.csrf import CSRF_FIELD, csrf_token

__all__ = ["templates", "render", "STATIC_DIR"]

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _when(value: Any) -> str:
    """Formats epoch seconds or an ISO-8601 string as `YYYY-MM-DD HH:MM:SS UTC`."""
    moment = _as_datetime(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ("" if value is None else str(value))


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return None


def _duration(start: Any, end: Any) -> str:
    first, last = _as_datetime(start), _as_datetime(end)
    if not first or not last:
        return ""
    seconds = max(0, int((last - first).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _to_yaml(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False)


templates.env.filters["when"] = _when
templates.env.filters["duration"] = _duration
templates.env.filters["to_yaml"] = _to_yaml
templates.env.filters["to_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def render(
    request: Request, template: str, status_code: int = 200, *, fragment: bool = False, **context: Any
) -> Response:
    """Renders `template` with the request's user, CSRF token and pending flash message.

    A `fragment` (part of a page, fetched by script) leaves the flash message for the next page.
    """
    signer = request.app.state.flash_signer
    message = None if fragment else signer.loads(cookies.read(request, cookies.FLASH))
    context.setdefault("user", request.scope.get("state", {}).get("user"))
    context.update(
        request=request,
        csrf_token=csrf_token(request),
        flash=message,
        settings=request.app.state.settings,
        url=lambda route_name, /, **params: str(request.app.url_path_for(route_name, **params)),
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if message is not None:
        cookies.delete_cookie(request, response, cookies.FLASH)
    return response
