"""The platform's whole error tree as the API sees it, and the one place errors become HTTP statuses.

The kinds are defined by the layer that raises them (`core.errors`, `jobtypes.errors`,
`stacks.errors`); they are re-exported here so API code imports them from one module.
`http_status(exc)` is what the lifecycle and the dashboard answer with.
"""

from __future__ import annotations

from core.errors import (
    AlreadyExists,
    DeployFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    PlatformError,
    Unauthenticated,
    Unavailable,
)
from jobtypes.errors import BuildFailed
from stacks.errors import EngineMissing, StackBusy, StackError

__all__ = [
    "PlatformError",
    "NotFound",
    "AlreadyExists",
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "Unavailable",
    "EngineMissing",
    "StackError",
    "StackBusy",
    "DeployFailed",
    "BuildFailed",
    "HTTP_STATUS",
    "http_status",
    "with_status",
]

# Most specific class first is not needed: `http_status` walks the error's class hierarchy.
HTTP_STATUS: dict[type[PlatformError], int] = {
    PlatformError: 500,
    NotFound: 404,
    AlreadyExists: 409,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
    EngineMissing: 503,
    StackError: 500,
    StackBusy: 409,
    DeployFailed: 500,
}


def http_status(exc: PlatformError) -> int:
    """The HTTP status an error is answered with (an error relayed from another service keeps its own)."""
    relayed = exc.__dict__.get("http_status")
    if isinstance(relayed, int):
        return relayed
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def with_status(exc: PlatformError, status: int) -> PlatformError:
    """Marks an error relayed from another service with the status that service answered."""
    exc.__dict__["http_status"] = status
    return exc
