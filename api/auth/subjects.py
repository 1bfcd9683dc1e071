"""Who is calling: the `Caller` of a request, and the auth subjects behind users, ESCs and job families."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import AuthSubject, Esc, JobFamily, User

__all__ = [
    "Caller",
    "ANONYMOUS",
    "UNRESTRICTED_ANONYMOUS",
    "subject_for_user",
    "subject_for_esc",
    "subject_for_family",
    "caller_for_subject",
]

_KIND_LABELS = {"user": "User", "esc": "ESC", "job_family": "Job family", "internal": "Internal"}


@dataclass(frozen=True)
class Caller:
    """The authenticated party of one request (or the anonymous one)."""

    kind: str  # user | esc | job_family | internal | anonymous
    name: str
    subject_id: int | None = None
    user_id: int | None = None
    token_id: int | None = None
    is_staff: bool = False
    is_superuser: bool = False
    unrestricted: bool = False  # anonymous callers when auth is not required (RACETRACK_AUTH_REQUIRED=false)

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def display(self) -> str:
        """The name shown to jobs and in audit records, e.g. `User alice` or `ESC billing`."""
        return f"{_KIND_LABELS.get(self.kind, self.kind)} {self.name}"

    @property
    def username(self) -> str | None:
        return self.name if self.kind == "user" else None


ANONYMOUS = Caller(kind="anonymous", name="anonymous")
UNRESTRICTED_ANONYMOUS = Caller(kind="anonymous", name="anonymous", unrestricted=True)


def _get_or_create(session: Session, **owner: object) -> AuthSubject:
    column, value = next(iter((k, v) for k, v in owner.items() if k != "kind"))
    subject = session.scalar(select(AuthSubject).where(getattr(AuthSubject, column) == value))
    if subject is None:
        subject = AuthSubject(**owner)
        session.add(subject)
        session.flush()
    return subject


def subject_for_user(session: Session, user: User) -> AuthSubject:
    return _get_or_create(session, kind="user", user_id=user.id)


def subject_for_esc(session: Session, esc: Esc) -> AuthSubject:
    return _get_or_create(session, kind="esc", esc_id=esc.id)


def subject_for_family(session: Session, family: JobFamily) -> AuthSubject:
    return _get_or_create(session, kind="job_family", job_family_id=family.id)


def caller_for_subject(subject: AuthSubject, *, token_id: int | None = None) -> Caller:
    if subject.kind == "user" and subject.user is not None:
        user = subject.user
        return Caller(
            kind="user",
            name=user.username,
            subject_id=subject.id,
            user_id=user.id,
            token_id=token_id,
            is_staff=user.is_staff,
            is_superuser=user.is_superuser,
        )
    if subject.kind == "esc" and subject.esc is not None:
        return Caller(kind="esc", name=subject.esc.name, subject_id=subject.id, token_id=token_id)
    if subject.kind == "job_family" and subject.job_family is not None:
        return Caller(
            kind="job_family", name=subject.job_family.name, subject_id=subject.id, token_id=token_id
        )
    return Caller(kind=subject.kind, name=subject.name or "?", subject_id=subject.id, token_id=token_id)
