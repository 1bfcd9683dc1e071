"""Errors the CLI reports to its user, each with the reason and what to do next.

    ClientError                 exit 1, printed as "Error: ..." plus a hint line
    ├── ServerUnreachable       no answer from the URL tried (connection refused, DNS, timeout)
    ├── NotLoggedIn             no token stored for a server that needs one
    ├── Unauthenticated         the server rejected the stored token (401)
    ├── Forbidden               the token lacks a permission (403)
    ├── NotFound                a job, version, plugin or deployment does not exist (404)
    ├── AlreadyExists           a name or version is taken (409)
    ├── InvalidInput            a manifest, payload or parameter is malformed (400, or found locally)
    ├── Unavailable             the platform refuses for now, e.g. maintenance mode (503)
    ├── ServerError             any other failure answered by the server (5xx)
    ├── ConfigError             ~/.racetrack/config.yaml cannot be read
    ├── OperationFailed         a deployment, preview or rollback finished with status "failed"
    └── Interrupted             Ctrl-C while waiting (exit 130); the server carries on

The status-code classes mirror the server's error tree (`{"error": ..., "type": ...}` bodies), so a
message the server wrote reaches the user unchanged.
"""

from __future__ import annotations

__all__ = [
    "ClientError",
    "ServerUnreachable",
    "NotLoggedIn",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "AlreadyExists",
    "InvalidInput",
    "Unavailable",
    "ServerError",
    "ConfigError",
    "OperationFailed",
    "Interrupted",
    "error_for_status",
]


class ClientError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status_code = status_code
        self.server_message = server_message  # the server's own words, when the error came from an answer

    def __str__(self) -> str:
        return self.message


class ServerUnreachable(ClientError):
    """Raised when the server at a URL cannot be reached at all."""


class NotLoggedIn(ClientError):
    """Raised when a command needs a token and none is stored for the server."""


class Unauthenticated(ClientError):
    """Raised when the server answers 401 to the token sent."""


class Forbidden(ClientError):
    """Raised when the server answers 403: the token lacks the permission needed."""


class NotFound(ClientError):
    """Raised when the server answers 404."""


class AlreadyExists(ClientError):
    """Raised when the server answers 409."""


class InvalidInput(ClientError):
    """Raised for a malformed manifest, payload or parameter (locally or by a 400 answer)."""


class Unavailable(ClientError):
    """Raised when the server answers 503, e.g. in maintenance mode."""


class ServerError(ClientError):
    """Raised for any other error status the server answers."""


class ConfigError(ClientError):
    """Raised when the local config file cannot be read or parsed."""


class OperationFailed(ClientError):
    """Raised when a deployment, preview or rollback ends with status failed."""


class Interrupted(ClientError):
    """Raised on Ctrl-C while waiting for an operation; it goes on at the server."""

    exit_code = 130


_BY_STATUS: dict[int, type[ClientError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: AlreadyExists,
    422: InvalidInput,
    503: Unavailable,
}


def error_for_status(status_code: int) -> type[ClientError]:
    """The error class matching an HTTP status code."""
    return _BY_STATUS.get(status_code, ServerError)
