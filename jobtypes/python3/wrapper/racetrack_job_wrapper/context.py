"""The request being served, visible to user code (and `call_job`) through a context variable."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

__all__ = ["RequestInfo", "current_request"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    tracing_id: str | None
    caller_name: str | None


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "racetrack_request", default=None
)


def current_request() -> RequestInfo | None:
    """The tracing id and caller of the request being served, or None outside a request."""
    return _current.get()


def set_request(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    return _current.set(info)


def reset_request(token: contextvars.Token[RequestInfo | None]) -> None:
    _current.reset(token)
