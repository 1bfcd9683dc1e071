"""Exceptions a job may raise to choose the HTTP status of its answer."""

from __future__ import annotations

__all__ = ["JobHTTPError"]


class JobHTTPError(Exception):
    """Answered with `status` and `{"error": message}` instead of a 500.

    raise JobHTTPError(404, "no such customer")
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
