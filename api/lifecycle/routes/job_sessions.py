"""Opening a job's pages in a browser: a one-time ticket for the dashboard, its redemption by pub.

`POST /auth/job-session/ticket` (a user's token): the URL on the job's own host that opens `path`
there, carrying a ticket valid for 60 s and one use. `POST /auth/job-session/redeem` (pub's internal
token): the ticket traded for the session pub sets as a cookie on that host. See
api/auth/job_sessions.py and docs/security.md.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth.job_sessions import TICKET_LIFETIME, issue_ticket, redeem_ticket
from api.db import Job
from api.db.repository import get_family
from api.errors import InvalidInput, NotFound
from api.lifecycle.deps import SessionDep, SettingsDep, UserCaller, require_internal
from api.lifecycle.errors import error_responses
from jobtypes.manifest.model import NAME_PATTERN

router = APIRouter(prefix="/auth/job-session", tags=["job pages"], responses=error_responses(401, 403, 422))

OPEN_PATH = "/.racetrack/open"  # pub's ticket exchange on a job's host


class TicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_name: str = Field(max_length=64)
    path: str = Field(max_length=2048, description="the page to open, e.g. /pub/job/adder/0.0.1/docs")


class TicketResponse(BaseModel):
    url: str
    expires_in: int


class Redemption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(max_length=4096)
    job_name: str = Field(max_length=64)


class RedemptionResponse(BaseModel):
    session: str
    max_age: int
    next: str


def _page_of(name: str, path: str) -> str:
    """`path` when it is a page of job `name` in one plain form (no other job, host or dot-segment)."""
    page, _, query = path.partition("?")
    segments = page.split("/")
    if (
        not any(page.startswith(f"/pub/{kind}/{name}/") for kind in ("job", "fatman"))
        or any(segment in (".", "..") for segment in segments[1:-1])
        or "//" in page
        or any(ch in path for ch in "\\#\r\n\t ")
        or not path.isprintable()
    ):
        raise InvalidInput(f"{path!r} is not a page of job {name}: give /pub/job/{name}/<version>/<path>")
    return page + (f"?{query}" if query else "")


@router.post("/ticket", response_model=TicketResponse, responses=error_responses(400, 404))
def ticket(
    body: TicketRequest, caller: UserCaller, session: SessionDep, settings: SettingsDep
) -> TicketResponse:
    """A URL that opens a page of a job on the job's own host as the caller (for the dashboard's links)."""
    name = body.job_name
    if not NAME_PATTERN.match(name):
        raise InvalidInput(f"{name!r} is not a job name")
    if get_family(session, name) is None and session.scalar(select(Job.id).where(Job.name == name)) is None:
        raise NotFound(f"job {name} was not found")
    page = _page_of(name, body.path)
    value = issue_ticket(settings.signing_key(), caller, name, page)
    return TicketResponse(
        url=f"{settings.job_url(name)}{OPEN_PATH}?ticket={quote(value, safe='')}",
        expires_in=int(TICKET_LIFETIME.total_seconds()),
    )


@router.post(
    "/redeem",
    response_model=RedemptionResponse,
    dependencies=[Depends(require_internal)],
    include_in_schema=False,
)
def redeem(body: Redemption, session: SessionDep, settings: SettingsDep) -> RedemptionResponse:
    """Pub trades a ticket for the session of the job's host."""
    lifetime = timedelta(seconds=settings.job_session_ttl)
    value, next_page, _ = redeem_ticket(
        session,
        settings.signing_key(),
        body.ticket,
        body.job_name,
        lifetime,
        user_token_lifetime=settings.user_token_max_age,
    )
    return RedemptionResponse(session=value, max_age=int(lifetime.total_seconds()), next=next_page)
