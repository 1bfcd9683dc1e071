"""The request being served, visible to the job's code as upstream's wrapper shows it.

The wrapper sets two attributes on the job object once it is created (so not yet inside `__init__`):

    self.request_context.get()   # the current request (a starlette Request): .headers, .url, .client
    self.request_extra.get()     # a dict that lives as long as the request, for the job's own notes

both context variables, set for every call of perform, an auxiliary endpoint or the webview. Code
that has no job object at hand uses `current_request()`. `call_job` reads the tracing id and the
caller's name from here to pass them on.
"""

from __future__ import annotations

import contextvars
from typing import Any

from starlette.requests import Request

from .asgi import Scope

__all__ = ["request_context", "request_extra", "current_request", "attach_to", "RequestScope"]

request_context: contextvars.ContextVar[Request] = contextvars.ContextVar("request_context")
request_extra: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("request_extra")


def current_request() -> Request | None:
    """The request being served, or None outside a request."""
    return request_context.get(None)


def attach_to(job: Any) -> None:
    """Gives the job object its `request_context` and `request_extra`, as upstream's wrapper does."""
    for name, variable in (("request_context", request_context), ("request_extra", request_extra)):
        try:
            setattr(job, name, variable)
        except AttributeError:  # a class with __slots__ or a read-only property of that name
            pass


class RequestScope:
    """Sets both variables for the duration of one request: `with RequestScope(scope): ...`."""

    __slots__ = ("_scope", "_tokens")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def __enter__(self) -> Request:
        request = Request(self._scope)
        self._tokens = (request_context.set(request), request_extra.set({}))
        return request

    def __exit__(self, *exc: object) -> None:
        context_token, extra_token = self._tokens
        request_context.reset(context_token)
        request_extra.reset(extra_token)
