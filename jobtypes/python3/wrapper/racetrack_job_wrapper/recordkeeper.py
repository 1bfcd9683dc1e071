"""Recordkeeper's predecessor id, carried from a request to the chain calls it makes (upstream's API).

from racetrack_job_wrapper.recordkeeper import remember_predecessor_id
remember_predecessor_id(self, record_id)    # later call_job(...) sends it as the header
"""

from __future__ import annotations

from typing import Any

from .context import current_request, request_extra

__all__ = ["RECORDKEEPER_HEADER", "remember_predecessor_id", "read_predecessor_id"]

RECORDKEEPER_HEADER = "X-Recordkeeper-Predecessor-Id"


def remember_predecessor_id(entrypoint: Any, value: str) -> None:
    """Notes `value` for the chain calls of the request being served (no effect outside a request)."""
    notes = request_extra.get(None)
    if notes is not None:
        notes[RECORDKEEPER_HEADER] = value


def read_predecessor_id(entrypoint: Any = None) -> str | None:
    """The id noted during this request, else the one the request came with."""
    noted = request_extra.get({}).get(RECORDKEEPER_HEADER)
    if noted:
        return str(noted)
    request = current_request()
    return request.headers.get(RECORDKEEPER_HEADER) if request is not None else None
