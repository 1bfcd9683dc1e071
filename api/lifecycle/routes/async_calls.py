"""Asynchronous job calls, stored for pub (internal token, or scope call_admin_api).

A call records who made it (`caller_subject_id`, from pub, which got it from can-call-job). Its result
is for that caller only: pub reads a record on a caller's behalf with `?reader=caller` and the caller's
token, and anyone reading without pub's token is checked the same way; others (staff excepted) are told
the call does not exist. A call made without credentials (public endpoints, RACETRACK_AUTH_REQUIRED=false)
belongs to nobody: its unguessable id is what lets one read it. Records older than the retention
(`RACETRACK_ASYNC_CALL_RETENTION`) are deleted: by a periodic purge, and when met.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller
from api.db import AsyncJobCall, session_scope, utcnow
from api.errors import AlreadyExists, NotFound
from api.lifecycle.deps import InternalOrAdmin, SessionDep, SettingsDep, from_platform, get_caller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MAX_INT32, MessageResponse, ts
from api.settings import Settings

logger = logging.getLogger("racetrack.lifecycle")

router = APIRouter(
    prefix="/job/async/call",
    tags=["pub"],
    dependencies=[InternalOrAdmin],
    responses=error_responses(401, 403, 404, 422),
)

_REQUIRED = frozenset({"status", "attempts", "retriable_error"})
CallStatus = Literal["ongoing", "completed", "failed"]


class AsyncCallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    status: CallStatus = "ongoing"
    job_name: str = Field(max_length=128)
    job_version: str = Field(max_length=128)
    job_path: str = Field(max_length=1024)
    request_method: str = Field(max_length=16)
    request_url: str = Field(max_length=2048)
    request_headers: dict[str, Any] | None = None
    request_body: str | None = None
    pub_instance_addr: str | None = Field(default=None, max_length=256)
    attempts: int = Field(default=0, ge=0, le=MAX_INT32)
    caller_subject_id: int | None = Field(
        default=None, ge=1, le=MAX_INT32, description="who made the call: can-call-job's caller_id"
    )


class AsyncCallUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: CallStatus | None = None
    error: str | None = None
    response_status_code: int | None = Field(default=None, ge=100, le=599)
    response_headers: dict[str, Any] | None = None
    response_body: str | None = None
    attempts: int | None = Field(default=None, ge=0, le=MAX_INT32)
    pub_instance_addr: str | None = Field(default=None, max_length=256)
    retriable_error: bool | None = None


class AsyncCallOut(BaseModel):
    id: str
    status: str
    started_at: int | None
    ended_at: int | None
    error: str | None
    job_name: str
    job_version: str
    job_path: str
    request_method: str
    request_url: str
    request_headers: dict[str, Any] | None
    request_body: str | None
    response_status_code: int | None
    response_headers: dict[str, Any] | None
    response_body: str | None
    attempts: int
    pub_instance_addr: str | None
    retriable_error: bool


def _out(call: AsyncJobCall) -> AsyncCallOut:
    return AsyncCallOut(
        id=call.id,
        status=call.status,
        started_at=ts(call.started_at),
        ended_at=ts(call.ended_at),
        error=call.error,
        job_name=call.job_name,
        job_version=call.job_version,
        job_path=call.job_path,
        request_method=call.request_method,
        request_url=call.request_url,
        request_headers=call.request_headers,
        request_body=call.request_body,
        response_status_code=call.response_status_code,
        response_headers=call.response_headers,
        response_body=call.response_body,
        attempts=call.attempts,
        pub_instance_addr=call.pub_instance_addr,
        retriable_error=call.retriable_error,
    )


def purge_expired(session: Session, settings: Settings) -> int:
    """Deletes the calls older than the retention; returns how many."""
    cutoff = utcnow() - timedelta(seconds=settings.async_call_retention)
    result = session.execute(delete(AsyncJobCall).where(AsyncJobCall.started_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_periodically(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Purges expired calls a few times per retention period (at most hourly) until cancelled, so a
    result does not outlive its retention when nobody creates or reads calls."""
    interval = max(1.0, min(3600.0, settings.async_call_retention / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(_purge_once, sessions, settings)
        except Exception:
            logger.exception("purging expired async calls failed; trying again in %.0f s", interval)


def _purge_once(sessions: sessionmaker[Session], settings: Settings) -> None:
    with session_scope(sessions) as session:
        purge_expired(session, settings)


def _get(session: Session, settings: Settings, call_id: str) -> AsyncJobCall:
    call = session.get(AsyncJobCall, call_id)
    if call is not None and utcnow() - call.started_at > timedelta(seconds=settings.async_call_retention):
        session.delete(call)
        session.commit()  # kept although the request ends in a 404, which rolls back the rest
        call = None
    if call is None:
        raise NotFound(f"async job call {call_id} was not found")
    return call


def _may_read(caller: Caller, call: AsyncJobCall) -> bool:
    if caller.is_staff or caller.is_superuser or call.caller_subject_id is None:
        return True
    return caller.subject_id == call.caller_subject_id


@router.post("", response_model=AsyncCallOut, status_code=201, responses=error_responses(409))
def create_call(body: AsyncCallCreate, session: SessionDep, settings: SettingsDep) -> AsyncCallOut:
    """Stores a new call; calls older than the retention (`RACETRACK_ASYNC_CALL_RETENTION`) are purged."""
    purge_expired(session, settings)
    fields = body.model_dump(exclude_none=True)
    if body.id is not None and session.get(AsyncJobCall, body.id) is not None:
        raise AlreadyExists(f"async job call {body.id} already exists")
    call = AsyncJobCall(**fields)
    session.add(call)
    session.flush()
    return _out(call)


@router.get("/{call_id}", response_model=AsyncCallOut)
def get_call(
    call_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: Annotated[
        Literal["caller"] | None,
        Query(description="`caller`: pub reads on behalf of the X-Racetrack-Auth holder, checked as such"),
    ] = None,
) -> AsyncCallOut:
    """A call and its result, for pub; for anyone else only their own calls (staff: all)."""
    call = _get(session, settings, call_id)
    if reader == "caller" or not from_platform(request, settings):
        if not _may_read(get_caller(request, session, settings), call):
            raise NotFound(f"async job call {call_id} was not found")  # not "forbidden": ids stay secret
    return _out(call)


@router.put("/{call_id}", response_model=AsyncCallOut)
def update_call(
    call_id: str, body: AsyncCallUpdate, session: SessionDep, settings: SettingsDep
) -> AsyncCallOut:
    """Updates the given fields; moving to completed or failed sets `ended_at`."""
    call = _get(session, settings, call_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is None and key in _REQUIRED:
            continue  # these columns cannot be empty; null means "leave as is"
        setattr(call, key, value)
    if body.status in ("completed", "failed") and call.ended_at is None:
        call.ended_at = utcnow()
    session.flush()
    return _out(call)


@router.delete("/{call_id}", response_model=MessageResponse)
def delete_call(call_id: str, session: SessionDep, settings: SettingsDep) -> MessageResponse:
    session.delete(_get(session, settings, call_id))
    return MessageResponse(message="deleted")
