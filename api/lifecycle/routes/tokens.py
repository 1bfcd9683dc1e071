"""Tokens of the caller and of job families: show, regenerate."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import primary_token, subject_for_family
from api.auth.tokens import regenerate_token
from api.db import AuthSubject
from api.db.repository import get_family
from api.errors import NotFound
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


@router.post("/job_family/{name}/regenerate", response_model=TokenResponse, responses=error_responses(404))
def regenerate_family_token(
    name: str, _: StaffCaller, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """Revokes a job family's tokens and issues a new one (staff); redeploy its jobs to use it."""
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    _, token = regenerate_token(session, subject_for_family(session, family), settings.signing_key())
    return TokenResponse(token=token)
