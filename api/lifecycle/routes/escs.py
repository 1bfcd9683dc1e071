"""External Service Consumers (staff only): create, list, and manage their tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import subject_for_esc
from api.auth.tokens import issue_token, token_string
from api.db import AuthToken, Esc, utcnow
from api.db.repository import record_audit
from api.errors import AlreadyExists, NotFound
from api.lifecycle.deps import SessionDep, SettingsDep, StaffCaller
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, RowId, ts

router = APIRouter(prefix="/escs", tags=["escs"], responses=error_responses(401, 403, 404, 422))


class EscCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")


class EscOut(BaseModel):
    id: str
    name: str


class EscTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expiry_days: int | None = Field(default=None, ge=1, le=3650)
    description: str | None = Field(default=None, max_length=256)


class EscTokenOut(BaseModel):
    id: int
    token: str
    active: bool
    expiry_time: int | None
    last_use_time: int | None
    create_time: int | None
    description: str | None


class EscAuthData(BaseModel):
    id: str
    name: str
    tokens: list[EscTokenOut]


def _esc(session: SessionDep, esc_id: str) -> Esc:
    esc = session.get(Esc, esc_id)
    if esc is None:
        raise NotFound(f"ESC {esc_id} was not found")
    return esc


def _token_out(token: AuthToken, key: str) -> EscTokenOut:
    return EscTokenOut(
        id=token.id,
        token=token_string(key, token),
        active=token.active,
        expiry_time=ts(token.expiry_time),
        last_use_time=ts(token.last_use_time),
        create_time=ts(token.create_time),
        description=token.description,
    )


@router.get("", response_model=list[EscOut])
def list_escs(_: StaffCaller, session: SessionDep) -> list[EscOut]:
    return [EscOut(id=e.id, name=e.name) for e in session.scalars(select(Esc).order_by(Esc.name))]


@router.post("", response_model=EscOut, status_code=201, responses=error_responses(409))
def create_esc(body: EscCreate, caller: StaffCaller, session: SessionDep) -> EscOut:
    """Creates an ESC with no permissions; grant it call_job on the jobs it may call."""
    if session.scalar(select(Esc).where(Esc.name == body.name)) is not None:
        raise AlreadyExists(f"ESC {body.name} already exists")
    esc = Esc(name=body.name, created_by=caller.name)
    session.add(esc)
    session.flush()
    subject_for_esc(session, esc)
    record_audit(session, "esc_created", executor=caller.name, subject=esc.name)
    return EscOut(id=esc.id, name=esc.name)


@router.get("/{esc_id}/auth_data", response_model=EscAuthData)
def esc_auth_data(esc_id: str, _: StaffCaller, session: SessionDep, settings: SettingsDep) -> EscAuthData:
    """The ESC and all its tokens, with activity and last use."""
    esc = _esc(session, esc_id)
    subject = subject_for_esc(session, esc)
    tokens = session.scalars(
        select(AuthToken).where(AuthToken.subject_id == subject.id).order_by(AuthToken.id)
    )
    key = settings.signing_key()
    return EscAuthData(id=esc.id, name=esc.name, tokens=[_token_out(t, key) for t in tokens])


@router.post("/{esc_id}/auth_token", response_model=EscTokenOut, status_code=201)
def create_esc_token(
    esc_id: str, body: EscTokenCreate, caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> EscTokenOut:
    esc = _esc(session, esc_id)
    expiry = utcnow() + timedelta(days=body.expiry_days) if body.expiry_days else None
    token, _ = issue_token(
        session,
        subject_for_esc(session, esc),
        settings.signing_key(),
        expiry_time=expiry,
        description=body.description,
    )
    record_audit(session, "esc_token_created", executor=caller.name, subject=esc.name)
    return _token_out(token, settings.signing_key())


@router.delete("/{esc_id}/auth_token/{token_id}", response_model=MessageResponse)
def revoke_esc_token(
    esc_id: str, token_id: RowId, caller: StaffCaller, session: SessionDep
) -> MessageResponse:
    esc = _esc(session, esc_id)
    subject = subject_for_esc(session, esc)
    token = session.get(AuthToken, token_id)
    if token is None or token.subject_id != subject.id:
        raise NotFound(f"token {token_id} of ESC {esc.name} was not found")
    token.active = False
    record_audit(session, "esc_token_revoked", executor=caller.name, subject=esc.name)
    return MessageResponse(message="token revoked")
