"""The base of the platform's error tree, without HTTP: only `api` maps errors to status codes.

    PlatformError
    ├── NotFound            something named by the caller does not exist
    ├── AlreadyExists       a name or version is taken
    ├── InvalidInput        the caller sent something malformed (a manifest, a form, a parameter)
    ├── Unauthenticated     no credentials, or credentials that are unknown, revoked or expired
    ├── Forbidden           valid credentials without the permission needed
    ├── Unavailable         the platform refuses for now (maintenance mode, a dependency down)
    └── DeployFailed        a deploy did not reach a serving state

Each layer adds its own kinds below these (`jobtypes.errors`, `stacks.errors`).
"""

from __future__ import annotations

__all__ = [
    "PlatformError",
    "NotFound",
    "AlreadyExists",
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "Unavailable",
    "DeployFailed",
]


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(PlatformError):
    """Raised when a job, deployment, user or other named thing does not exist."""


class AlreadyExists(PlatformError):
    """Raised when creating something whose name (or name and version) is taken."""


class InvalidInput(PlatformError):
    """Raised for malformed input: the message names the field, the problem and the fix."""


class Unauthenticated(PlatformError):
    """Raised when the caller's credentials are missing, unknown, revoked or expired."""


class Forbidden(PlatformError):
    """Raised when authenticated credentials lack the permission an operation needs."""


class Unavailable(PlatformError):
    """Raised when the platform refuses work for now, e.g. in maintenance mode."""


class DeployFailed(PlatformError):
    """Raised when a deploy builds or starts nothing that serves."""
