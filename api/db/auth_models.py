"""Tables of the auth model: users, ESCs, auth subjects, recorded tokens and permissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.base import Base, UtcDateTime, new_id, utcnow
from api.db.registry_models import Job, JobFamily

__all__ = ["SUBJECT_KINDS", "User", "Esc", "AuthSubject", "AuthToken", "Permission", "UsedJobTicket"]

SUBJECT_KINDS = ("user", "esc", "job_family", "internal")


class User(Base):
    """A person: inactive after registration until staff activate the account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    date_joined: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Esc(Base):
    """An External Service Consumer: a program outside Racetrack that calls jobs."""

    __tablename__ = "escs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(256))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuthSubject(Base):
    """Whoever holds tokens and permissions: a user, an ESC, a job family or a platform component."""

    __tablename__ = "auth_subjects"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN esc_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN job_family_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    esc_id: Mapped[str | None] = mapped_column(ForeignKey("escs.id", ondelete="CASCADE"), unique=True)
    job_family_id: Mapped[str | None] = mapped_column(
        ForeignKey("job_families.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str | None] = mapped_column(String(150))  # internal subjects only

    user: Mapped[User | None] = relationship()
    esc: Mapped[Esc | None] = relationship()
    job_family: Mapped[JobFamily | None] = relationship()


class AuthToken(Base):
    """A recorded token: the JWT carries `seed`, so revoking this row revokes the token."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("auth_subjects.id", ondelete="CASCADE"), index=True)
    seed: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    expiry_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_use_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    description: Mapped[str | None] = mapped_column(String(256))

    subject: Mapped[AuthSubject] = relationship()


class Permission(Base):
    """A scope granted to a subject on everything, a family, one job, or an endpoint of those."""

    __tablename__ = "permissions"
    __table_args__ = (Index("ix_permissions_subject_scope", "subject_id", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("auth_subjects.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(32))
    job_family_id: Mapped[str | None] = mapped_column(ForeignKey("job_families.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    endpoint: Mapped[str | None] = mapped_column(String(1024))
    granted_by: Mapped[str | None] = mapped_column(String(256))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    subject: Mapped[AuthSubject] = relationship()
    job_family: Mapped[JobFamily | None] = relationship()
    job: Mapped[Job | None] = relationship()


class UsedJobTicket(Base):
    """A ticket that opened a job's pages (api/auth/job_sessions.py): each opens them once.

    Kept until the ticket would have expired anyway, then purged by the next redemption.
    """

    __tablename__ = "used_job_tickets"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
