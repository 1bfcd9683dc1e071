"""Maps the platform's error tree (and framework errors) to JSON `{"error", "type"}` responses, once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import PlatformError, http_status

__all__ = ["ErrorResponse", "install_error_handlers", "error_responses"]

logger = logging.getLogger("racetrack.lifecycle")

_HTTP_TYPES = {
    400: "InvalidInput",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    413: "InvalidInput",
    415: "InvalidInput",
    422: "InvalidInput",
    429: "TooManyRequests",
    503: "Unavailable",
}


class ErrorResponse(BaseModel):
    """Every error of the API: a message for people and the error class for programs."""

    error: str
    type: str


_DESCRIPTIONS = {
    400: "Malformed input (the message names the field)",
    401: "Missing, unknown, revoked or expired credentials",
    403: "Authenticated, but without the permission needed",
    404: "No such job, deployment, user or other resource",
    409: "The name or version is taken",
    413: "The request body is larger than this route accepts",
    422: "The request does not match the expected schema",
    429: "Too many attempts: wait the Retry-After seconds",
    503: "Maintenance mode, or a dependency is down",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error status codes."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(code, "Error")} for code in codes}


def _json(status: int, message: str, kind: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "type": kind}, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"field `{location}`: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def platform_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PlatformError)
        status = http_status(exc)
        if status >= 500:
            logger.error("%s: %s (%s)", type(exc).__name__, exc.message, exc.details)
        return _json(status, exc.message, type(exc).__name__)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _json(422, _describe_validation(exc), "InvalidInput")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _json(exc.status_code, message, _HTTP_TYPES.get(exc.status_code, "HTTPError"), exc.headers)

    async def data_error(_: Request, exc: Exception) -> JSONResponse:
        # The database refused a value (too large for its column, a NUL byte in text): bad input, not a crash.
        logger.info("database refused a value: %s", exc)
        return _json(
            400,
            "a value in the request cannot be stored (out of range or containing NUL characters)",
            "InvalidInput",
        )

    async def integrity_error(_: Request, exc: Exception) -> JSONResponse:
        # Two requests raced for the same name; the loser is told what a sequential caller would be told.
        logger.info("integrity error: %s", exc)
        return _json(409, "a resource with the same name or version already exists", "AlreadyExists")

    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", exc_info=exc)
        return _json(500, "internal server error", "InternalError")

    app.add_exception_handler(PlatformError, platform_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(Exception, unexpected_error)
