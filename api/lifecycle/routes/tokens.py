"""Tokens of the caller, ESCs and job families: show, regenerate one, regenerate all of a kind."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import primary_token, subject_for_esc, subject_for_family, subject_for_user
from api.auth.tokens import regenerate_token
from api.db import AuthSubject, Esc, JobFamily, User
from api.db.repository import get_family, record_audit
from api.errors import Forbidden, NotFound
from api.lifecycle.deps import SessionDep, SettingsDep, StaffCaller, UserCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.routes.users import NewTokenResponse, TokenResponse

router = APIRouter(prefix="/auth/token", tags=["tokens"], responses=error_responses(401, 403, 422))


@router.get("/user", response_model=TokenResponse)
def my_token(caller: UserCaller, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    """The caller's current token (what the dashboard Profile shows)."""
    subject = session.get(AuthSubject, caller.subject_id)
    assert subject is not None
    _, token = primary_token(
        session, subject, settings.signing_key(), user_token_lifetime=settings.user_token_max_age
    )
    return TokenResponse(token=token)


@router.post("/user/regenerate", response_model=NewTokenResponse)
def regenerate_my_token(caller: UserCaller, session: SessionDep, settings: SettingsDep) -> NewTokenResponse:
    """Revokes the caller's tokens and issues a new one, answered as upstream does: `{"new_token": ...}`."""
    subject = session.get(AuthSubject, caller.subject_id)
    assert subject is not None
    _, token = regenerate_token(session, subject, settings.signing_key())
    return NewTokenResponse(new_token=token)


class BulkRegenerated(BaseModel):
    message: str
    count: int


def _regenerate_all(
    session: SessionDep, settings: SettingsDep, subjects: list[AuthSubject], kind: str, executor: str
) -> BulkRegenerated:
    for subject in subjects:
        regenerate_token(session, subject, settings.signing_key())
    record_audit(
        session, "tokens_regenerated", executor=executor, properties={"kind": kind, "count": len(subjects)}
    )
    return BulkRegenerated(message=f"{len(subjects)} {kind} token(s) regenerated", count=len(subjects))


@router.post("/user/all/regenerate", response_model=BulkRegenerated)
def regenerate_all_user_tokens(
    caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> BulkRegenerated:
    """Revokes every other user's tokens and issues new ones (superusers: it logs out the other staff too).

    The caller keeps theirs, so whoever answers an incident is not locked out by doing so; they renew their
    own with `POST /auth/token/user/regenerate`."""
    if not caller.is_superuser:
        raise Forbidden(
            f"User {caller.name} is not a superuser: only superusers regenerate every user's token"
        )
    users = session.scalars(select(User).where(User.username != caller.name).order_by(User.id))
    subjects = [subject_for_user(session, user) for user in users]
    return _regenerate_all(session, settings, subjects, "user", caller.name)


@router.post("/esc/regenerate", response_model=BulkRegenerated)
def regenerate_all_esc_tokens(
    caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> BulkRegenerated:
    """Revokes every ESC's tokens and issues one new token each (staff); hand them out again."""
    subjects = [subject_for_esc(session, esc) for esc in session.scalars(select(Esc).order_by(Esc.name))]
    return _regenerate_all(session, settings, subjects, "ESC", caller.name)


@router.post("/job_family/regenerate", response_model=BulkRegenerated)
def regenerate_all_family_tokens(
    caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> BulkRegenerated:
    """Revokes every job family's tokens and issues new ones (staff); redeploy jobs to give them theirs."""
    families = session.scalars(select(JobFamily).order_by(JobFamily.name))
    subjects = [subject_for_family(session, family) for family in families]
    return _regenerate_all(session, settings, subjects, "job family", caller.name)


@router.get("/esc/{esc_id}", response_model=TokenResponse, responses=error_responses(404))
def esc_token(esc_id: str, _: StaffCaller, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    """An ESC's current token, issuing one if it has none (staff)."""
    esc = session.get(Esc, esc_id)
    if esc is None:
        raise NotFound(f"ESC {esc_id} was not found")
    _row, token = primary_token(session, subject_for_esc(session, esc), settings.signing_key())
    return TokenResponse(token=token)


@router.post("/job_family/{name}/regenerate", response_model=TokenResponse, responses=error_responses(404))
def regenerate_family_token(
    name: str, _: StaffCaller, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """Revokes a job family's tokens and issues a new one (staff); redeploy its jobs to use it."""
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    _row, token = regenerate_token(session, subject_for_family(session, family), settings.signing_key())
    return TokenResponse(token=token)
