"""The platform's one error tree.

    PlatformError
    ├── NotFound            something named by the caller does not exist
    ├── AlreadyExists       a name or version is taken
    ├── InvalidInput        the caller sent something malformed (a manifest, a form, a parameter)
    ├── Unauthenticated     no credentials, or credentials that are unknown, revoked or expired
    ├── Forbidden           valid credentials without the permission needed
    ├── Unavailable         the platform refuses for now (maintenance mode, a dependency down)
    ├── EngineMissing       a Pulumi binary or plugin is not installed (run `make setup`)
    └── StackError          a Pulumi operation failed
        ├── StackBusy       another operation holds the stack's lock
        └── DeployFailed    a deploy did not reach a serving state

Domain code raises these; the HTTP layer maps each class to a status code in one place.
The module has no imports from the rest of the project, so `stacks/` and `jobtypes/` can use it.
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
    "EngineMissing",
    "StackError",
    "StackBusy",
    "DeployFailed",
]


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(PlatformError):
    """Raised when a job, deployment, user or other named thing does not exist."""

    status_code = 404


class AlreadyExists(PlatformError):
    """Raised when creating something whose name (or name and version) is taken."""

    status_code = 409


class InvalidInput(PlatformError):
    """Raised for malformed input: the message names the field, the problem and the fix."""

    status_code = 400


class Unauthenticated(PlatformError):
    """Raised when the caller's credentials are missing, unknown, revoked or expired."""

    status_code = 401


class Forbidden(PlatformError):
    """Raised when authenticated credentials lack the permission an operation needs."""

    status_code = 403


class Unavailable(PlatformError):
    """Raised when the platform refuses work for now, e.g. in maintenance mode."""

    status_code = 503


class EngineMissing(PlatformError):
    """Raised when the Pulumi CLI or a provider plugin is not installed."""

    status_code = 503


class StackError(PlatformError):
    """Raised when a Pulumi operation on a stack fails."""

    status_code = 500


class StackBusy(StackError):
    """Raised when another operation holds the stack's lock."""

    status_code = 409


class DeployFailed(StackError):
    """Raised when a deploy builds or starts nothing that serves."""

    status_code = 500
