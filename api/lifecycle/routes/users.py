"""Users: login (sets the auth cookie), logout, registration, token check, password change, staff admin."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import authenticate_password, change_password, primary_token, register_user, subject_for_user
from api.auth.tokens import issue_token, revoke_subject_tokens
from api.db import User
from api.db.repository import record_audit
from api.errors import Forbidden, NotFound
from api.lifecycle.deps import LoggedIn, SessionDep, SettingsDep, StaffCaller, UserCaller, login_cookie
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, ts

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(400, 401, 403, 422))

COOKIE_MAX_AGE = 31 * 24 * 3600


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class LoginResponse(BaseModel):
    username: str
    token: str


class TokenResponse(BaseModel):
    token: str


class AuthInfo(BaseModel):
    username: str
    subject_type: str
    is_staff: bool
    is_superuser: bool


class UserOut(BaseModel):
    id: int
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    date_joined: int | None
    last_login: int | None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_active: bool | None = None
    is_staff: bool | None = None


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        is_active=user.is_active,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=ts(user.date_joined),
        last_login=ts(user.last_login),
    )


@router.post("/login", response_model=LoginResponse)
def login(body: Credentials, response: Response, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    """Checks username and password; returns the user's token and sets it as the `X-Racetrack-Auth` cookie."""
    user = authenticate_password(session, body.username, body.password)
    _, token = primary_token(session, subject_for_user(session, user), settings.signing_key())
    name, secure = login_cookie(settings)
    response.set_cookie(
        name, quote(token), max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax", secure=secure
    )
    return LoginResponse(username=user.username, token=token)


@router.get("/logout", response_model=MessageResponse)
def logout(response: Response, settings: SettingsDep) -> MessageResponse:
    """Clears the auth cookie (the token itself stays valid; regenerate it to revoke it)."""
    name, secure = login_cookie(settings)
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
    return MessageResponse(message="logged out")


@router.post("/register", response_model=UserOut, status_code=201, responses=error_responses(409))
def register(body: Credentials, session: SessionDep) -> UserOut:
    """Creates an inactive account; a Racetrack admin has to activate it before it can log in."""
    user = register_user(session, body.username, body.password)
    record_audit(session, "user_registered", executor=user.username, subject=user.username)
    return _user_out(user)


@router.get("/validate_user_auth", response_model=AuthInfo)
def validate_user_auth(caller: LoggedIn) -> AuthInfo:
    """Says whose token this is (used by `racetrack login <token>`)."""
    return AuthInfo(
        username=caller.name,
        subject_type=caller.kind,
        is_staff=caller.is_staff,
        is_superuser=caller.is_superuser,
    )


@router.put("/change_password", response_model=MessageResponse)
def put_password(body: PasswordChange, caller: UserCaller, session: SessionDep) -> MessageResponse:
    user = session.get(User, caller.user_id)
    if user is None:
        raise NotFound("user not found")
    change_password(session, user, body.old_password, body.new_password)
    return MessageResponse(message="password changed")


@router.get("", response_model=list[UserOut])
def list_users(_: StaffCaller, session: SessionDep) -> list[UserOut]:
    """All users (staff only)."""
    return [_user_out(u) for u in session.scalars(select(User).order_by(User.username))]


def _target_user(session: SessionDep, caller: StaffCaller, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username} was not found")
    if user.is_superuser and not caller.is_superuser:
        raise Forbidden(f"User {caller.name} may not change superuser {username}")
    return user


@router.patch("/{username}", response_model=UserOut, responses=error_responses(404))
def update_user(username: str, body: UserUpdate, caller: StaffCaller, session: SessionDep) -> UserOut:
    """Activates or deactivates a user (staff); granting or removing staff needs a superuser."""
    user = _target_user(session, caller, username)
    if body.is_staff is not None and body.is_staff != user.is_staff and not caller.is_superuser:
        raise Forbidden(f"User {caller.name} is not a superuser: only superusers change the staff flag")
    if body.is_active is not None:
        user.is_active = body.is_active
    if body.is_staff is not None:
        user.is_staff = body.is_staff
    record_audit(
        session,
        "user_updated",
        executor=caller.name,
        subject=username,
        properties=body.model_dump(exclude_none=True),
    )
    return _user_out(user)


@router.post("/{username}/token/regenerate", response_model=TokenResponse, responses=error_responses(404))
def regenerate_user_token(
    username: str, caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """Revokes every token of a user and issues a new one (staff)."""
    user = _target_user(session, caller, username)
    subject = subject_for_user(session, user)
    revoke_subject_tokens(session, subject.id)
    _, token = issue_token(session, subject, settings.signing_key())
    return TokenResponse(token=token)
