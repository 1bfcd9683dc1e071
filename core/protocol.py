"""Names the platform's parts agree on over the wire: headers and permission scopes.

The client keeps its own copy of the header names (it imports nothing from the server); a test
compares the two.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AUTH_HEADER",
    "LEGACY_AUTH_HEADERS",
    "INTERNAL_AUTH_HEADER",
    "CALLER_NAME_HEADER",
    "ASYNC_CALLER_HEADER",
    "REQUEST_TRACING_HEADER",
    "Scope",
]

AUTH_HEADER = "X-Racetrack-Auth"
# Upstream's older names for the same token: still read, never written.
LEGACY_AUTH_HEADERS = ("X-Racetrack-User-Auth", "X-Racetrack-Esc-Auth")
INTERNAL_AUTH_HEADER = "X-Racetrack-Internal-Auth"
CALLER_NAME_HEADER = "X-Caller-Name"
ASYNC_CALLER_HEADER = "X-Racetrack-Async-Caller"
REQUEST_TRACING_HEADER = "X-Request-Tracing-Id"


class Scope(StrEnum):
    """Permission scopes, as upstream Racetrack names them."""

    read_job = "read_job"
    deploy_job = "deploy_job"
    deploy_new_family = "deploy_new_family"
    delete_job = "delete_job"
    call_job = "call_job"
    call_admin_api = "call_admin_api"
    full_access = "full_access"  # covers every other scope
