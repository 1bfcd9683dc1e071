"""One-time tickets and browser sessions for a job's own host (pub: api/pub/gateway/jobhost.go).

Each job's pages are served to browsers from an origin of their own, so the browser needs a
credential for that host alone, and no token may travel in a URL. The dashboard asks for a ticket
(`issue_ticket`): valid for `TICKET_LIFETIME`, once, for one job and the user's token. The browser
carries it to the job's host, where pub trades it (`redeem_ticket`, with pub's internal token) for a
session: a signed value naming the same token and job, which pub sets as a cookie on that host and
shows the lifecycle at each call (`authenticate_job_session`). Neither value holds the token: both
name its database row, and every use checks that row again, so revoking the token or deactivating
the user ends every ticket and session made from it.

Tickets and sessions are JWTs signed with keys derived from the platform's signing key for this use
only, so neither can pass for a token (nor a ticket for a session).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth.subjects import Caller
from api.auth.tokens import authenticate_token, token_string
from api.db import AuthToken, UsedJobTicket, utcnow
from api.errors import Forbidden, Unauthenticated

__all__ = ["TICKET_LIFETIME", "issue_ticket", "redeem_ticket", "authenticate_job_session"]

TICKET_LIFETIME = timedelta(seconds=60)
_ALGORITHM = "HS256"
_REOPEN = "open the job again from the dashboard"


def _key(signing_key: str, kind: str) -> bytes:
    return hmac.new(signing_key.encode(), f"racetrack job {kind}".encode(), hashlib.sha256).digest()


def _decode(value: str, signing_key: str, kind: str, problem: str) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jwt.decode(
            value, _key(signing_key, kind), algorithms=[_ALGORITHM], options={"require": ["exp"]}
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"{problem}: {_REOPEN}", details=str(exc)) from exc
    if payload.get("typ") != kind or not isinstance(payload.get("tid"), int):
        raise Unauthenticated(f"{problem}: {_REOPEN}")
    return payload


def _caller_of(
    session: Session, signing_key: str, token_id: int, user_token_lifetime: timedelta | None
) -> Caller:
    """The caller behind a token row, checked as if the token itself had been shown."""
    token = session.get(AuthToken, token_id)
    if token is None:
        raise Unauthenticated("wrong credentials: token is unknown")
    return authenticate_token(
        session, signing_key, token_string(signing_key, token), user_token_lifetime=user_token_lifetime
    )


def issue_ticket(signing_key: str, caller: Caller, job_name: str, next_path: str) -> str:
    """A ticket for `caller` to open `next_path` on job `job_name`'s host."""
    if caller.kind != "user" or caller.token_id is None:
        raise Forbidden("only users open a job's pages in a browser; other callers send X-Racetrack-Auth")
    payload = {
        "typ": "ticket",
        "tid": caller.token_id,
        "job": job_name,
        "next": next_path,
        "jti": uuid.uuid4().hex,
        "exp": utcnow() + TICKET_LIFETIME,
    }
    return jwt.encode(payload, _key(signing_key, "ticket"), algorithm=_ALGORITHM)


def redeem_ticket(
    session: Session,
    signing_key: str,
    ticket: str,
    job_name: str,
    lifetime: timedelta,
    *,
    user_token_lifetime: timedelta | None = None,
) -> tuple[str, str, datetime]:
    """Trades a ticket for a session on `job_name`'s host: (session, next path, session expiry)."""
    payload = _decode(
        ticket, signing_key, "ticket", "the link that opens the job's pages is not valid or has expired"
    )
    if payload.get("job") != job_name:
        raise Unauthenticated(
            f"the link opens the pages of job {payload.get('job')}, not {job_name}: {_REOPEN}"
        )
    _caller_of(session, signing_key, payload["tid"], user_token_lifetime)  # the token behind it still counts
    ticket_id = str(payload.get("jti") or "")
    if not ticket_id:
        raise Unauthenticated(f"the link that opens the job's pages is not valid: {_REOPEN}")
    now = utcnow()
    session.execute(delete(UsedJobTicket).where(UsedJobTicket.expires_at < now))
    used = session.scalar(select(UsedJobTicket).where(UsedJobTicket.ticket_id == ticket_id))
    if used is not None:
        raise Unauthenticated(f"the link that opens the job's pages was used already: {_REOPEN}")
    session.add(UsedJobTicket(ticket_id=ticket_id, expires_at=now + TICKET_LIFETIME))
    try:
        session.flush()
    except IntegrityError as exc:  # the same ticket, redeemed at the same moment elsewhere
        session.rollback()
        raise Unauthenticated(f"the link that opens the job's pages was used already: {_REOPEN}") from exc
    expires = now + lifetime
    value = jwt.encode(
        {"typ": "session", "tid": payload["tid"], "job": job_name, "exp": expires},
        _key(signing_key, "session"),
        algorithm=_ALGORITHM,
    )
    return value, str(payload.get("next") or ""), expires


def authenticate_job_session(
    session: Session,
    signing_key: str,
    value: str,
    job_name: str,
    *,
    user_token_lifetime: timedelta | None = None,
) -> Caller:
    """The caller behind a job host's session cookie, for a call to job `job_name`."""
    payload = _decode(value, signing_key, "session", "the browser session of the job's pages has expired")
    if payload.get("job") != job_name:
        raise Unauthenticated(f"the browser session is for job {payload.get('job')}, not {job_name}")
    return _caller_of(session, signing_key, payload["tid"], user_token_lifetime)
