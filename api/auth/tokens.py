"""Signed (HS256 JWT) and recorded tokens.

A token's JWT carries a random `seed`; the row in `auth_tokens` with that seed says whether the token is
active, when it expires and when it was last used. The database keeps only the seed, never the token:
the token can be re-created from the seed by whoever holds the signing key (so the dashboard can show a
user their token), but a copy of the database alone reveals none.

Every token has a row: a JWT without one (upstream's unrecorded "internal" tokens included) is refused,
so that every token the platform accepts can be revoked. A user's token also expires a set time after it
was issued (`RACETRACK_USER_TOKEN_LIFETIME`), checked against `create_time` so that a shorter setting
applies to tokens issued before it.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from api.auth.subjects import Caller, caller_for_subject
from api.db import AuthSubject, AuthToken, utcnow
from api.errors import Unauthenticated

__all__ = [
    "issue_token",
    "token_string",
    "authenticate_token",
    "internal_token_valid",
    "revoke_subject_tokens",
    "regenerate_token",
    "primary_token",
    "expires_at",
    "LAST_USE_GRANULARITY",
]

ALGORITHM = "HS256"
# Recording every use would turn each read into a write; a few minutes of precision is enough.
LAST_USE_GRANULARITY = timedelta(minutes=5)


def _subject_label(subject: AuthSubject) -> str:
    if subject.user is not None:
        return subject.user.username
    if subject.esc is not None:
        return subject.esc.name
    if subject.job_family is not None:
        return subject.job_family.name
    return subject.name or ""


def token_string(key: str, token: AuthToken) -> str:
    """Re-creates the JWT of a recorded token (deterministic: same seed and key give the same string)."""
    payload = {
        "seed": token.seed,
        "subject": _subject_label(token.subject),
        "subject_type": token.subject.kind,
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def issue_token(
    session: Session,
    subject: AuthSubject,
    key: str,
    *,
    expiry_time: datetime | None = None,
    description: str | None = None,
) -> tuple[AuthToken, str]:
    token = AuthToken(
        subject=subject, seed=str(uuid.uuid4()), active=True, expiry_time=expiry_time, description=description
    )
    session.add(token)
    session.flush()
    return token, token_string(key, token)


def expires_at(token: AuthToken, user_token_lifetime: timedelta | None) -> datetime | None:
    """When a token stops working: its own expiry, or for a user's token its lifetime, whichever is first."""
    ends = [token.expiry_time] if token.expiry_time is not None else []
    if user_token_lifetime is not None and token.subject.kind == "user":
        ends.append(token.create_time + user_token_lifetime)
    return min(ends, default=None)


def primary_token(
    session: Session, subject: AuthSubject, key: str, *, user_token_lifetime: timedelta | None = None
) -> tuple[AuthToken, str]:
    """The newest active, unexpired token of a subject; a new one is issued if there is none."""
    now = utcnow()
    tokens = session.scalars(
        select(AuthToken)
        .where(AuthToken.subject_id == subject.id, AuthToken.active.is_(True))
        .order_by(AuthToken.create_time.desc(), AuthToken.id.desc())
    ).all()
    for token in tokens:
        end = expires_at(token, user_token_lifetime)
        if end is None or end > now:
            return token, token_string(key, token)
    return issue_token(session, subject, key)


def revoke_subject_tokens(session: Session, subject_id: int) -> int:
    result = session.execute(
        update(AuthToken)
        .where(AuthToken.subject_id == subject_id, AuthToken.active.is_(True))
        .values(active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def regenerate_token(session: Session, subject: AuthSubject, key: str) -> tuple[AuthToken, str]:
    """Revokes every token of a subject and issues its new one."""
    revoke_subject_tokens(session, subject.id)
    return issue_token(session, subject, key)


def authenticate_token(
    session: Session, key: str, raw: str, *, user_token_lifetime: timedelta | None = None
) -> Caller:
    """Checks a token and returns its caller; raises Unauthenticated with upstream's messages."""
    try:
        payload = jwt.decode(raw, key, algorithms=[ALGORITHM])
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid JWT token", details=str(exc)) from exc
    seed = payload.get("seed")
    if not isinstance(seed, str):
        raise Unauthenticated("invalid JWT token", details="the token has no seed")
    subject_owners = joinedload(AuthToken.subject)
    token = session.scalar(
        select(AuthToken)
        .where(AuthToken.seed == seed)
        .options(
            subject_owners.joinedload(AuthSubject.user),
            subject_owners.joinedload(AuthSubject.esc),
            subject_owners.joinedload(AuthSubject.job_family),
        )
    )
    if token is None:
        raise Unauthenticated("wrong credentials: token is unknown")
    if not token.active:
        raise Unauthenticated("given access token has been revoked")
    now = utcnow()
    end = expires_at(token, user_token_lifetime)
    if end is not None and end <= now:
        hint = ": log in again, or copy your new token from the dashboard's Profile page"
        raise Unauthenticated(
            "given access token has expired" + (hint if token.subject.kind == "user" else "")
        )
    subject = token.subject
    if subject.kind == "user" and subject.user is not None and not subject.user.is_active:
        raise Unauthenticated(
            f"user {subject.user.username} is inactive: ask a Racetrack admin to activate it"
        )
    if token.last_use_time is None or now - token.last_use_time >= LAST_USE_GRANULARITY:
        token.last_use_time = now
        session.flush()
    return caller_for_subject(subject, token_id=token.id)


def internal_token_valid(given: str | None, expected: str) -> bool:
    """Constant-time comparison of pub's X-Racetrack-Internal-Auth header."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
